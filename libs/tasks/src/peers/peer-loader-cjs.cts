// The CommonJS build's peer-loader.ts: see there for why.
import type * as NestjsPino from 'nestjs-pino';
import type * as Typeorm from 'typeorm';

/** Resolves from the library's own folder, where the app's peers are installed. */
export const requireFromHere: NodeJS.Require = require;

export const loadNestjsPino = async (): Promise<typeof NestjsPino> => require('nestjs-pino') as typeof NestjsPino;

export const loadTypeorm = async (): Promise<typeof Typeorm> => require('typeorm') as typeof Typeorm;
