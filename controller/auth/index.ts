export * from './identity.ts';
export * from './tokens.ts';
