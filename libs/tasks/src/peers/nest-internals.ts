import { UseInterceptors } from '@nestjs/common';
// The key `@UseInterceptors()` stores its interceptors under. Nest has no
// public reader for it: `@nestjs/common/internal` is the entry its sibling
// packages (@nestjs/core's InterceptorsContextCreator among them) read it from.
import { INTERCEPTORS_METADATA } from '@nestjs/common/internal';

// What the library relies on in Nest beyond its public API, in one place.
// Checked against @nestjs/common and @nestjs/core 12.5.1; nest-internals.spec.ts
// fails, naming the change, when a Nest release changes what is relied on here.

/**
 * Whether `@UseInterceptors()` put at least one interceptor on `target` (a
 * class, or a method's function). Task and cron handlers that declare none,
 * with no global interceptor, are called directly instead of through Nest's
 * proxy, which costs three promises per job. Nest offers no public way to ask
 * this, hence the metadata read.
 *
 * Never a wrong "no": when this Nest stores interceptors where this read does
 * not see them (checked once, on a probe class), every target counts as
 * declaring some, so handlers take Nest's proxy, slower but with every
 * interceptor run.
 */
export function declaresInterceptors(target: object): boolean {
  return !metadataReadable || readInterceptors(target) > 0;
}

function readInterceptors(target: object): number {
  const found: unknown = typeof INTERCEPTORS_METADATA === 'string' ? Reflect.getMetadata(INTERCEPTORS_METADATA, target) : undefined;
  return Array.isArray(found) ? found.length : 0;
}

/** Whether the read above sees what `@UseInterceptors()` writes, on a class and on a method, on this Nest. */
export const metadataReadable: boolean = (() => {
  class ProbeInterceptor {}
  class Probe {
    handle(): void {}
  }
  UseInterceptors(ProbeInterceptor)(Probe);
  const method = Object.getOwnPropertyDescriptor(Probe.prototype, 'handle') as PropertyDescriptor;
  UseInterceptors(ProbeInterceptor)(Probe.prototype, 'handle', method);
  return readInterceptors(Probe) === 1 && readInterceptors(method.value as object) === 1;
})();
