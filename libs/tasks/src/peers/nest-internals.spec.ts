import { Injectable, UseInterceptors, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { ExternalContextCreator } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import type { Observable } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { declaresInterceptors, metadataReadable } from './nest-internals.js';

// These run the installed Nest: when one fails, the Nest release changed what
// nest-internals.ts relies on, and the adapter must follow. Until it does,
// every handler goes through Nest's proxy (slower, never wrong).

const CHANGED = 'Nest changed what peers/nest-internals.ts relies on (checked against @nestjs/common 12.5.1)';

const ran: string[] = [];

@Injectable()
class Recorder implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    ran.push('interceptor');
    return next.handle();
  }
}

@UseInterceptors(Recorder)
class DecoratedClass {
  plain(): string {
    return 'plain';
  }
}

@Injectable()
class PlainClass {
  @UseInterceptors(Recorder)
  decorated(): string {
    return 'decorated';
  }

  plain(): string {
    return 'plain';
  }

  @UseInterceptors()
  emptyList(): string {
    return 'empty';
  }
}

/** A method of PlainClass as the explorer sees it: the function the decorators were given. */
const methodOf = (name: 'decorated' | 'plain' | 'emptyList'): object => Object.getOwnPropertyDescriptor(PlainClass.prototype, name)?.value as object;

describe('what the library relies on in Nest', () => {
  it('reads the interceptors @UseInterceptors() declares, where @nestjs/common stores them', () => {
    expect(metadataReadable, `${CHANGED}: @UseInterceptors() no longer stores under INTERCEPTORS_METADATA of @nestjs/common/internal`).toBe(true);
    expect(declaresInterceptors(DecoratedClass), `${CHANGED}: a class's @UseInterceptors()`).toBe(true);
    expect(declaresInterceptors(methodOf('decorated')), `${CHANGED}: a method's @UseInterceptors()`).toBe(true);
    expect(declaresInterceptors(PlainClass), `${CHANGED}: a class without @UseInterceptors()`).toBe(false);
    expect(declaresInterceptors(methodOf('plain')), `${CHANGED}: a method without @UseInterceptors()`).toBe(false);
    expect(declaresInterceptors(methodOf('emptyList')), `${CHANGED}: @UseInterceptors() with none`).toBe(false);
  });

  it('what it reads is what Nest runs: the method it finds declaring an interceptor gets it through ExternalContextCreator, the others none', async () => {
    const moduleRef = await Test.createTestingModule({ providers: [PlainClass] }).compile();
    const contexts = moduleRef.get(ExternalContextCreator);
    const proxy = (instance: object, name: string) =>
      contexts.create(
        instance,
        (instance as Record<string, () => unknown>)[name] as () => unknown,
        name,
        undefined,
        undefined,
        undefined,
        undefined,
        { guards: false, interceptors: true, filters: false },
        'task',
      );
    const plain = moduleRef.get(PlainClass);
    for (const name of ['decorated', 'plain', 'emptyList'] as const) {
      ran.length = 0;
      await proxy(plain, name)();
      const declared = declaresInterceptors(methodOf(name));
      expect(ran.length > 0, `${CHANGED}: PlainClass.${name} reads as ${declared ? 'declaring' : 'declaring no'} interceptor, Nest ran ${ran.length}`).toBe(declared);
    }
    await moduleRef.close();
  });
});
