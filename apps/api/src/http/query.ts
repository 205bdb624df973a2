import { BadRequestException } from '@nestjs/common';

/** Turns one query value into what the handler uses; throws BadRequestException with the reason. */
export type QueryParser<T> = (value: string) => T;

export type ParsedQuery<S extends Record<string, QueryParser<unknown>>> = { [K in keyof S]?: ReturnType<S[K]> };

/**
 * Reads a request's query against the parameters an endpoint takes: 400, with
 * the parameter's name, for one it does not take, for one given more than once
 * and for a value its parser refuses. A parameter that is absent is undefined.
 *
 *   const { limit } = readQuery(query, { limit: parseLimit });
 */
export function readQuery<S extends Record<string, QueryParser<unknown>>>(query: unknown, schema: S): ParsedQuery<S> {
  const given = (query ?? {}) as Record<string, unknown>;
  const taken = Object.keys(schema);
  for (const name of Object.keys(given)) {
    if (!Object.hasOwn(schema, name)) {
      const takes = taken.length > 0 ? `it takes ${taken.map((n) => `"${n}"`).join(', ')}` : 'it takes none';
      throw new BadRequestException(`Unknown query parameter ${quote(name)}: ${takes}.`);
    }
  }
  const parsed: Record<string, unknown> = {};
  for (const name of taken) {
    const value = given[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) throw new BadRequestException(`Query parameter "${name}" must be given once.`);
    if (typeof value !== 'string') throw new BadRequestException(`Query parameter "${name}" must be a single value.`);
    parsed[name] = schema[name](value);
  }
  return parsed as ParsedQuery<S>;
}

/** A name from the request, for a message: JSON-quoted (control characters escaped) and cut short. */
export function quote(text: string, max = 64): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}
