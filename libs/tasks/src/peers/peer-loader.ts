import { createRequire } from 'node:module';
import type * as NestjsPino from 'nestjs-pino';
import type * as Typeorm from 'typeorm';

// The optional peers are loaded the way this build of the library loads
// everything else: by `import` in the ESM build, by `require` in the CommonJS
// build (peer-loader-cjs.cts replaces this file there). A package that ships
// both builds (nestjs-pino) has one class per build, so loading it the other
// way would look up a PinoLogger the app never registered.
//
// The CommonJS build compiles this file too before replacing it, hence the
// casts through unknown and the one ts-ignore below.

/** Resolves from the library's own folder, where the app's peers are installed. */
// @ts-ignore TS1470: import.meta is ESM-only, and this file's CommonJS output is discarded.
export const requireFromHere: NodeJS.Require = createRequire(import.meta.url);

export const loadNestjsPino = (): Promise<typeof NestjsPino> => import('nestjs-pino') as Promise<unknown> as Promise<typeof NestjsPino>;

export const loadTypeorm = (): Promise<typeof Typeorm> => import('typeorm') as Promise<unknown> as Promise<typeof Typeorm>;
