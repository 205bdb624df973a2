import { Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper.js';
import { TaskRegistry, type TaskHandlerFn } from '../registry/task.registry.js';
import { getTaskMetadata } from './task-metadata.accessor.js';

/** Finds every `@Task()` method on the application's providers and registers it. */
@Injectable()
export class TasksExplorer implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly registry: TaskRegistry,
  ) {}

  onModuleInit(): void {
    const seen = new Set<object>();
    for (const wrapper of this.discovery.getProviders()) {
      const instance = this.staticInstance(wrapper);
      if (!instance || seen.has(instance)) continue;
      seen.add(instance);
      const prototype = Object.getPrototypeOf(instance) as object;
      for (const methodName of this.scanner.getAllMethodNames(prototype)) {
        const method = (instance as Record<string, unknown>)[methodName];
        const metadata = getTaskMetadata(method);
        if (!metadata) continue;
        this.registry.register({
          ...metadata,
          source: `${instance.constructor.name}.${methodName}`,
          handler: (method as TaskHandlerFn).bind(instance),
        });
      }
    }
  }

  // Request-scoped providers have no instance to call outside a request.
  private staticInstance(wrapper: InstanceWrapper): object | undefined {
    if (!wrapper.isDependencyTreeStatic() || !wrapper.instance) return undefined;
    return typeof wrapper.instance === 'object' ? (wrapper.instance as object) : undefined;
  }
}
