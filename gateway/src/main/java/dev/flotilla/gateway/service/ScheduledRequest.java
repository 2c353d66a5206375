package dev.flotilla.gateway.service;

import dev.flotilla.api.crd.Priority;
import dev.flotilla.api.prefix.PrefixKeys;
import dev.flotilla.api.v1.HeldProgress;
import dev.flotilla.gateway.route.WorkerView;
import dev.flotilla.gateway.schedule.ModelScheduler;
import io.grpc.StatusRuntimeException;
import java.util.HashSet;
import java.util.Set;

/**
 * An admitted request as its model's scheduler sees it: what it weighs in the fair queue, the
 * workers it must avoid, and where the scheduler's decisions go (its {@link RequestRun}).
 */
final class ScheduledRequest implements ModelScheduler.Request {
  private final RequestFacts facts;
  private final RequestRun run;
  private final long[] prefixKeys;

  /**
   * Workers that failed this request. Replaced, never changed, so the scheduler reads it under its
   * own lock without taking the run's.
   */
  private volatile Set<String> excluded = Set.of();

  ScheduledRequest(RequestFacts facts, RequestRun run) {
    this.facts = facts;
    this.run = run;
    // From the call the worker receives, so that its keys and the worker's are one computation.
    this.prefixKeys = facts.embeds() ? new long[0] : PrefixKeys.of(facts.workerRequest(0)).keys();
  }

  /** Keeps the request off a worker that failed it. */
  void exclude(String workerId) {
    Set<String> more = new HashSet<>(excluded);
    more.add(workerId);
    excluded = Set.copyOf(more);
  }

  @Override
  public String tenant() {
    return facts.tenant().name();
  }

  @Override
  public int weight() {
    return facts.tenant().weight();
  }

  @Override
  public Priority priority() {
    return facts.tenant().priority();
  }

  @Override
  public long promptTokens() {
    return facts.promptEstimate();
  }

  @Override
  public long heldBytes() {
    return facts.requestBytes();
  }

  @Override
  public String adapter() {
    return facts.adapterName();
  }

  @Override
  public long[] prefixKeys() {
    return prefixKeys;
  }

  @Override
  public Set<String> excluded() {
    return excluded;
  }

  @Override
  public boolean wantsProgress() {
    return facts.request().getReportProgress();
  }

  @Override
  public void dispatch(WorkerView worker, long queuedNanos) {
    run.routed(worker, queuedNanos);
  }

  @Override
  public void reject(ModelScheduler.RejectReason reason, StatusRuntimeException error) {
    run.rejected(reason, error);
  }

  @Override
  public void progress(HeldProgress progress) {
    run.progress(progress);
  }
}
