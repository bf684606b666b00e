export * from './identity.ts';
export * from './git.ts';
export * from './store.ts';
export * from './refs.ts';
export * from './read.ts';
export * from './diff.ts';
export * from './commit.ts';
