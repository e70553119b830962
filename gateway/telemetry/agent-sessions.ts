/**
 * Agent runs of agents that carry no instrumentation. A call that comes with no trace context but
 * names a session (the session header, or for /mcp its MCP session) is put under an AGENT span
 * the gateway opens for that session, so the model calls and tool calls of the run are one trace
 * and `agent_runs` shows it with its LLM and TOOL steps.
 *
 * The run ends when the session has had no call for `idle` (none in flight either), when its MCP
 * session is closed (DELETE /mcp), when more than `maxOpen` runs are open (the longest idle one
 * ends), or when the gateway closes. The AGENT span ends when its last call ended, not when the
 * run was found idle. Runs live in this process: a session whose calls reach several replicas
 * needs affinity (by the session header or Mcp-Session-Id) to stay one trace.
 */
import { SpanKind } from '@opentelemetry/api';
import { performance } from 'node:perf_hooks';
import { GENAI, OI, TG, TG_ORIGIN_GATEWAY } from '../../common/semconv.js';
import { AttrKey } from './spans/keys.js';
import type { AttrSink, Capture } from './spans/sink.js';
import type { AttributeSource, GatewaySpan } from './spans/span.js';
import type { GatewayTracer } from './spans/tracer.js';

export type RunEnd = 'idle' | 'session_closed' | 'shutdown' | 'evicted';

const K = {
  kind: new AttrKey(OI.SPAN_KIND),
  session: new AttrKey(OI.SESSION_ID),
  conversation: new AttrKey(GENAI.CONVERSATION_ID),
  operation: new AttrKey(GENAI.OPERATION_NAME),
  agentName: new AttrKey(OI.AGENT_NAME),
  genaiAgentName: new AttrKey(GENAI.AGENT_NAME),
  origin: new AttrKey(TG.ORIGIN),
  endedBy: new AttrKey(TG.AGENT_ENDED_BY),
  steps: new AttrKey(TG.AGENT_STEPS),
};

class Run implements AttributeSource {
  span: GatewaySpan | undefined;
  inFlight = 0;
  steps = 0;
  /** performance.now() of the last call's end (or of the run's start). */
  lastEnd: number;
  endedBy: RunEnd | undefined;

  constructor(
    readonly session: string,
    readonly agent: string | undefined,
    now: number,
  ) {
    this.lastEnd = now;
  }

  writeAttributes(s: AttrSink): void {
    s.tok(K.kind, 'AGENT');
    s.tok(K.operation, 'invoke_agent');
    s.str(K.session, this.session);
    s.str(K.conversation, this.session);
    if (this.agent) {
      s.str(K.agentName, this.agent);
      s.str(K.genaiAgentName, this.agent);
    }
    s.tok(K.origin, TG_ORIGIN_GATEWAY);
    s.num(K.steps, this.steps);
    if (this.endedBy) s.tok(K.endedBy, this.endedBy);
  }
}

export interface AgentSessionOptions {
  idleMs: number;
  maxOpen: number;
  capture: Capture;
}

/** A call's place in its session's run; `done()` when the call has ended. */
export interface RunStep {
  readonly parent: GatewaySpan;
  done(): void;
}

/** Agent names are cut to this: a header must not make a long label. */
const MAX_AGENT_CHARS = 128;

export class AgentSessions {
  private readonly runs = new Map<string, Run>();
  private readonly sweep: NodeJS.Timeout;
  private opts: AgentSessionOptions;

  constructor(
    private readonly tracer: GatewayTracer | undefined,
    opts: AgentSessionOptions,
  ) {
    this.opts = opts;
    this.sweep = setInterval(() => this.endIdle(), Math.max(20, Math.min(5000, Math.floor(opts.idleMs / 4))));
    this.sweep.unref();
  }

  /** A reloaded configuration's idle time and bound (the sweep keeps its interval). */
  configure(opts: AgentSessionOptions): void {
    this.opts = opts;
  }

  get open(): number {
    return this.runs.size;
  }

  /**
   * The AGENT span a call of `session` goes under (opened now if the session has no run), or
   * undefined when spans go nowhere.
   */
  step(session: string, agent: string | undefined): RunStep | undefined {
    const tracer = this.tracer;
    if (!tracer) return undefined;
    const now = performance.now();
    let run = this.runs.get(session);
    if (!run) {
      if (this.runs.size >= this.opts.maxOpen) this.evictOne();
      run = new Run(session, agent?.slice(0, MAX_AGENT_CHARS), now);
      run.span = tracer.start(run.agent ? `invoke_agent ${run.agent}` : 'invoke_agent', SpanKind.INTERNAL, undefined, now, run, this.opts.capture);
      if (!run.span) return undefined;
      this.runs.set(session, run);
    }
    const r = run;
    r.inFlight++;
    r.steps++;
    let finished = false;
    return {
      parent: r.span as GatewaySpan,
      done: () => {
        if (finished) return;
        finished = true;
        r.inFlight--;
        r.lastEnd = Math.max(r.lastEnd, performance.now());
      },
    };
  }

  /** Ends the session's run now (its MCP session was closed). */
  close(session: string, why: RunEnd = 'session_closed'): void {
    const run = this.runs.get(session);
    if (run) this.end(run, why, Math.max(run.lastEnd, performance.now()));
  }

  private end(run: Run, why: RunEnd, at: number): void {
    this.runs.delete(run.session);
    run.endedBy = why;
    run.span?.endPerf(at);
  }

  private evictOne(): void {
    let oldest: Run | undefined;
    for (const r of this.runs.values()) if (r.inFlight === 0 && (!oldest || r.lastEnd < oldest.lastEnd)) oldest = r;
    const victim = oldest ?? this.runs.values().next().value;
    if (victim) this.end(victim, 'evicted', victim.lastEnd);
  }

  /** Ends the runs idle for longer than `idleMs`, at their last call's end. */
  endIdle(now = performance.now()): void {
    for (const r of [...this.runs.values()]) if (r.inFlight === 0 && now - r.lastEnd >= this.opts.idleMs) this.end(r, 'idle', r.lastEnd);
  }

  /** Ends every open run (the gateway is closing). */
  shutdown(): void {
    clearInterval(this.sweep);
    for (const r of [...this.runs.values()]) this.end(r, 'shutdown', Math.max(r.lastEnd, r.inFlight ? performance.now() : r.lastEnd));
  }
}
