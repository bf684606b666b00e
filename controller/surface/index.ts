export * from './hyperhive-json.ts';
