import { HyperhiveError } from '../errors.ts';
import type { AgentSpec, ExecOptions, Prepared, PtyHandle, Runtime, RuntimeEvent, RuntimeHealth, RuntimeStatus } from './types.ts';

export type BackendKind = 'process' | 'nspawn';

export interface RoutedOptions {
  /** `serve --runtime`: where an agent runs unless its hyperhive.json says `"runtime"`. */
  fallback: BackendKind;
  /** Builds a backend the first time an agent needs it (an nspawn runtime is only made if some agent asks for it). */
  make: (kind: BackendKind) => Runtime;
  /** The `"runtime"` the revision's surface names, or null. */
  choose: (spec: AgentSpec, revision: string) => Promise<BackendKind | null>;
  /** The spec as that backend's agents see it (a container's mount targets). */
  adapt: (kind: BackendKind, spec: AgentSpec) => AgentSpec;
}

interface RoutedPrepared extends Prepared { backend: BackendKind; inner: Prepared }

/**
 * One runtime per agent, chosen per revision: the agent's applied hyperhive.json may say
 * `"runtime": "nspawn"` (or `"process"`), else `serve --runtime` decides. Activating a revision on
 * another backend than the one the agent runs on stops it there first; everything else is passed
 * to the backend the agent is on. Every backend passes the runtime conformance suite; this only routes.
 */
export class RoutedRuntime implements Runtime {
  readonly kind: BackendKind;
  readonly isolated: boolean;
  private backends = new Map<BackendKind, Runtime>();
  private owner = new Map<string, BackendKind>();
  /** Set before the first await of prepare, as every backend does: `building` shows at once. */
  private building = new Map<string, string>();
  private listeners = new Set<(e: RuntimeEvent) => void>();
  private healthFns = new Set<(h: RuntimeHealth) => void>();

  constructor(private readonly o: RoutedOptions) {
    this.kind = o.fallback;
    this.isolated = this.backend(o.fallback).isolated;
  }

  private backend(kind: BackendKind): Runtime {
    let b = this.backends.get(kind);
    if (!b) {
      b = this.o.make(kind);
      this.backends.set(kind, b);
      b.onEvent((e) => { for (const l of [...this.listeners]) { try { l(e); } catch { /* its own */ } } });
      b.onHealth?.(() => { const h = this.health(); for (const f of [...this.healthFns]) { try { f(h); } catch { /* its own */ } } });
    }
    return b;
  }

  private ownerOf(name: string): Runtime { return this.backend(this.owner.get(name) ?? this.o.fallback); }

  async prepare(spec: AgentSpec, revision: string): Promise<RoutedPrepared> {
    this.building.set(spec.name, revision);
    try {
      let kind: BackendKind;
      try {
        kind = (await this.o.choose(spec, revision)) ?? this.o.fallback;
      } catch (e) {
        const error = (e as Error).message;
        this.emit({ type: 'build-failed', agent: spec.name, revision, message: `cannot tell which runtime ${revision.slice(0, 7)} runs on: ${error}`, error, logTail: error });
        throw e;
      }
      const inner = await this.backend(kind).prepare(this.o.adapt(kind, spec), revision);
      return { name: spec.name, revision, spec: inner.spec, backend: kind, inner };
    } finally {
      if (this.building.get(spec.name) === revision) this.building.delete(spec.name);
    }
  }

  private emit(e: RuntimeEvent): void { for (const l of [...this.listeners]) { try { l(e); } catch { /* its own */ } } }

  async activate(p: RoutedPrepared): Promise<void> {
    const was = this.owner.get(p.name);
    if (was && was !== p.backend) await this.backend(was).stop(p.name);
    await this.backend(p.backend).activate(p.inner);
    this.owner.set(p.name, p.backend);
  }

  async discard(p: RoutedPrepared): Promise<void> { await this.backend(p.backend).discard(p.inner); }
  async stop(name: string): Promise<void> { await this.ownerOf(name).stop(name); }

  status(name: string): RuntimeStatus {
    const kind = this.owner.get(name) ?? this.o.fallback;
    const s = this.backend(kind).status(name);
    return { ...s, kind, building: this.building.get(name) ?? s.building };
  }

  exec(name: string, o: ExecOptions): Promise<PtyHandle> {
    if (!this.owner.has(name)) return Promise.reject(new HyperhiveError('conflict', `agent ${name} is not running: there is nothing to open a terminal in`, { name }));
    return this.ownerOf(name).exec(name, o);
  }

  onEvent(fn: (e: RuntimeEvent) => void): () => void {
    this.listeners.add(fn);
    return () => { this.listeners.delete(fn); };
  }

  health(): RuntimeHealth {
    const of = (k: BackendKind, b: Runtime): RuntimeHealth => b.health?.() ?? { kind: k, isolated: b.isolated, systemd: false, note: b.status('').note, watcher: null };
    const main = of(this.o.fallback, this.backend(this.o.fallback));
    const others = [...this.backends].filter(([k]) => k !== this.o.fallback).map(([k, b]) => of(k, b));
    return others.length ? { ...main, backends: others } : main;
  }

  onHealth(fn: (h: RuntimeHealth) => void): () => void {
    this.healthFns.add(fn);
    return () => { this.healthFns.delete(fn); };
  }

  async close(): Promise<void> { await Promise.all([...this.backends.values()].map((b) => b.close())); }
}
