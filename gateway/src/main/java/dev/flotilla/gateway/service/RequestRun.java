package dev.flotilla.gateway.service;

import dev.flotilla.api.v1.FinishReason;
import dev.flotilla.api.v1.HeldProgress;
import dev.flotilla.api.v1.TokenChunk;
import dev.flotilla.api.v1.Usage;
import dev.flotilla.api.worker.v1.WorkerEmbedRequest;
import dev.flotilla.api.worker.v1.WorkerEmbedResponse;
import dev.flotilla.api.worker.v1.WorkerFinal;
import dev.flotilla.api.worker.v1.WorkerGenerateRequest;
import dev.flotilla.gateway.limit.TenantLimiter;
import dev.flotilla.gateway.route.WorkerView;
import dev.flotilla.gateway.schedule.ModelScheduler;
import dev.flotilla.gateway.status.GatewayStatus;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.jboss.logging.Logger;

/**
 * One admitted request, from its model's scheduler to the meter: the route and stream stages. The
 * scheduler's decisions reach it through its {@link ScheduledRequest}, the worker's through the
 * current {@link WorkerAttempt}, the client's through {@link RunningRequest}; its {@link
 * RequestPhase} says which of them still matter, and only {@link #moveTo} changes it.
 *
 * <p>Exactly one outcome: {@link #finish} runs once with a {@link RequestOutcome}, settles the
 * tenant's limits, frees the worker slot and hands the measured outcome to the {@link UsageMeter},
 * which bills it and answers the client. Nothing here blocks: every step may run on a transport
 * thread. A worker failure before the first token retries on another worker; after it, the client
 * gets ABORTED and no token is ever sent twice.
 */
final class RequestRun implements RunningRequest {
  private static final Logger LOG = Logger.getLogger(RequestRun.class);

  private final RequestFacts facts;
  private final TenantLimiter.Permit permit;
  private final ResponseSink sink;
  private final ModelScheduler scheduler;
  private final WorkerAccess workers;
  private final RequestTally tally;
  private final UsageMeter meter;
  private final ScheduledRequest scheduled;
  private final Object lock = new Object();

  // guarded by lock
  private RequestPhase phase = RequestPhase.QUEUED;

  /** The current try: set while ROUTED or STREAMING. */
  private WorkerAttempt attempt;

  /** Tries on a worker that was still there, bounded by {@link WorkerAccess#maxAttempts}. */
  private int attempts;

  private ModelScheduler.Ticket ticket;

  RequestRun(
      RequestFacts facts,
      TenantLimiter.Permit permit,
      ResponseSink sink,
      ModelScheduler scheduler,
      WorkerAccess workers,
      RequestTally tally,
      UsageMeter meter) {
    this.facts = facts;
    this.permit = permit;
    this.sink = sink;
    this.scheduler = scheduler;
    this.workers = workers;
    this.tally = tally;
    this.meter = meter;
    this.scheduled = new ScheduledRequest(facts, this);
  }

  /** What the pipeline submits to the scheduler. */
  ScheduledRequest scheduled() {
    return scheduled;
  }

  /** The scheduler took the request; the ticket withdraws it while it waits. */
  void queued(ModelScheduler.Ticket ticket) {
    synchronized (lock) {
      this.ticket = ticket;
    }
  }

  /**
   * The one place the phase changes. False when the request is already DONE: the event that asks is
   * late, and its caller drops it. Any other move the table forbids is a bug. Under lock.
   */
  private boolean moveTo(RequestPhase next) {
    if (phase == RequestPhase.DONE) {
      return false;
    }
    if (!phase.mayMoveTo(next)) {
      throw new IllegalStateException(
          "request " + facts.requestId() + " cannot move from " + phase + " to " + next);
    }
    phase = next;
    return true;
  }

  // ---- route: the scheduler's decisions ----

  /** The scheduler picked {@code worker} after the request waited {@code queuedNanos}. */
  void routed(WorkerView worker, long queuedNanos) {
    WorkerAttempt a = begin(worker, queuedNanos);
    if (a == null) {
      scheduler.finished(worker.id()); // the request ended while it waited
    } else if (a.workerGone()) {
      workerFailed(a, Status.UNAVAILABLE.withDescription("worker went away"));
    } else if (WorkerAttempt.lacksAdapter(worker, facts.adapterName())) {
      a.loadAdapter(facts)
          .whenComplete(
              (ok, err) -> {
                if (err == null) {
                  open(a);
                } else {
                  workerFailed(a, Status.fromThrowable(err));
                }
              });
    } else {
      open(a);
    }
  }

  /** The try on {@code worker}, now the current one; null when the request already ended. */
  private WorkerAttempt begin(WorkerView worker, long queuedNanos) {
    String address = workers.address(worker.id());
    synchronized (lock) {
      if (!moveTo(RequestPhase.ROUTED)) {
        return null;
      }
      attempt = new WorkerAttempt(this, worker.id(), address, workers.client());
      if (!attempt.workerGone()) {
        attempts++;
        tally.routed(queuedNanos);
      }
      return attempt;
    }
  }

  /** The scheduler refused the request: held or queued too long, or no worker left to try. */
  void rejected(ModelScheduler.RejectReason reason, StatusRuntimeException error) {
    meter.rejected(reason.label());
    finish(RequestOutcome.failed(error));
  }

  /** How a held or queued request is doing, for a client that asked. */
  void progress(HeldProgress progress) {
    synchronized (lock) {
      if (phase != RequestPhase.DONE) {
        sink.progress(progress);
      }
    }
  }

  // ---- stream: the worker's call ----

  private void open(WorkerAttempt a) {
    if (facts.embeds()) {
      openEmbed(a);
      return;
    }
    // Built before the lock, which then covers only the opening (virtualCounter takes the
    // scheduler's lock).
    WorkerGenerateRequest request =
        facts.workerRequest(scheduler.virtualCounter(facts.tenant().name()));
    synchronized (lock) {
      if (a != attempt) {
        return; // the request ended while the adapter loaded
      }
      if (facts.deadline() != null && facts.deadline().isExpired()) {
        return; // the client's cancellation handler finishes the request
      }
      moveTo(RequestPhase.STREAMING);
      a.open(request, facts.deadline());
    }
  }

  /** As {@link #open}, for an embedding request: one unary Embed call. */
  private void openEmbed(WorkerAttempt a) {
    WorkerEmbedRequest request =
        facts.workerEmbedRequest(scheduler.virtualCounter(facts.tenant().name()));
    synchronized (lock) {
      if (a != attempt) {
        return;
      }
      if (facts.deadline() != null && facts.deadline().isExpired()) {
        return;
      }
      moveTo(RequestPhase.STREAMING);
      a.openEmbed(request, facts.deadline());
    }
  }

  /** The worker embedded every input: the vectors go to the sink, which answers on completion. */
  void embedded(WorkerAttempt from, WorkerEmbedResponse response) {
    synchronized (lock) {
      if (from != attempt || phase != RequestPhase.STREAMING) {
        return;
      }
      tally.promptCounted(response.getPromptTokens());
      sink.embeddings(response.getEmbeddingsList());
    }
    int prompt = response.getPromptTokens();
    finish(
        RequestOutcome.completed(
            WorkerFinal.newBuilder()
                .setFinishReason(FinishReason.STOP)
                .setUsage(Usage.newBuilder().setPromptTokens(prompt).setTotalTokens(prompt).build())
                .setQueueMs(response.getQueueMs())
                .setTotalMs(response.getTotalMs())
                .setPreemptions(response.getPreemptions())
                .build()));
  }

  void promptCounted(WorkerAttempt from, int promptTokens) {
    synchronized (lock) {
      if (from == attempt && phase == RequestPhase.STREAMING) {
        tally.promptCounted(promptTokens);
      }
    }
  }

  void tokens(WorkerAttempt from, TokenChunk chunk) {
    // Tokens are the ids; a chunk may carry text alone (the worker flushes text it held back,
    // such as an incomplete character, when the sequence ends), which is no new token.
    int n = chunk.getTokenIdsCount();
    synchronized (lock) {
      if (from != attempt || phase != RequestPhase.STREAMING) {
        return;
      }
      tally.streamed(n);
      sink.tokens(chunk);
      from.delivered(sink.isReady());
    }
    scheduler.charge(facts.tenant().name(), n);
  }

  void completed(WorkerAttempt from, WorkerFinal fin) {
    synchronized (lock) {
      if (from != attempt || phase != RequestPhase.STREAMING) {
        return;
      }
    }
    finish(RequestOutcome.completed(fin));
  }

  void workerFailed(WorkerAttempt from, Status status) {
    int streamed;
    synchronized (lock) {
      if (from != attempt) {
        return;
      }
      streamed = tally.completionTokens();
    }
    if (status.getCode() == Status.Code.DEADLINE_EXCEEDED
        && facts.deadline() != null
        && facts.deadline().isExpired()) {
      finish(RequestOutcome.deadlinePassed());
    } else if (streamed > 0) {
      finish(
          RequestOutcome.failed(
              GatewayStatus.aborted(
                  "the worker failed after "
                      + streamed
                      + " tokens were streamed ("
                      + status.getCode()
                      + "); not retried")));
    } else {
      retryOrFail(from, status);
    }
  }

  /**
   * As {@link #workerFailed}, keeping a refusal of the request itself (a bad argument, a model that
   * cannot serve it) as the worker sent it, details naming the field included: no other worker
   * would answer differently.
   */
  void workerRefused(WorkerAttempt from, StatusRuntimeException error) {
    switch (error.getStatus().getCode()) {
      case INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE -> {
        synchronized (lock) {
          if (from != attempt) {
            return;
          }
        }
        finish(RequestOutcome.failed(error));
      }
      default -> workerFailed(from, error.getStatus());
    }
  }

  /**
   * Nothing reached the client yet: frees the worker, keeps the request off it and, while tries
   * remain, queues it again for another.
   */
  private void retryOrFail(WorkerAttempt failed, Status status) {
    boolean retry;
    synchronized (lock) {
      if (failed != attempt) {
        return;
      }
      attempt = null;
      moveTo(RequestPhase.QUEUED);
      scheduled.exclude(failed.workerId());
      retry = retryable(status) && attempts < workers.maxAttempts();
    }
    scheduler.finished(failed.workerId());
    if (retry) {
      LOG.debugf(
          "request %s: worker %s failed before the first token (%s); retrying",
          facts.requestId(), failed.workerId(), status);
      scheduler.retry(scheduled);
    } else {
      finish(
          RequestOutcome.failed(
              retryable(status)
                  ? GatewayStatus.unavailable(
                      "workers failed the request: " + status.getCode(), 1_000_000_000L)
                  : status.asRuntimeException()));
    }
  }

  private static boolean retryable(Status status) {
    return switch (status.getCode()) {
      case INVALID_ARGUMENT,
          FAILED_PRECONDITION,
          CANCELLED,
          DEADLINE_EXCEEDED,
          OUT_OF_RANGE,
          PERMISSION_DENIED,
          UNAUTHENTICATED ->
          false;
      default -> true;
    };
  }

  // ---- the client ----

  /** The client can take more: resumes the worker stream if it was paused. */
  @Override
  public void onClientReady() {
    synchronized (lock) {
      if (phase == RequestPhase.STREAMING && sink.isReady()) {
        attempt.clientReady();
      }
    }
  }

  /** The client went away (cancelled or its deadline passed). */
  @Override
  public void clientCancelled(boolean deadlineExceeded) {
    finish(RequestOutcome.clientGone(deadlineExceeded));
  }

  // ---- meter ----

  /**
   * The one way out, whatever the phase: settles the tenant's limits, frees the worker slot and
   * hands the measured outcome to the meter. The request is DONE before anything is cancelled, so
   * the worker's answer to a cancellation (CANCELLED, or a Final that crossed it) finds it finished
   * and cannot end it a second time as a worker failure.
   */
  private void finish(RequestOutcome outcome) {
    WorkerAttempt ended;
    ModelScheduler.Ticket waiting;
    RequestOutcome measured;
    synchronized (lock) {
      if (!moveTo(RequestPhase.DONE)) {
        return;
      }
      ended = attempt;
      attempt = null;
      waiting = ticket;
      measured = tally.measure(outcome, ended != null, facts.promptEstimate());
    }
    if (outcome.clientGone()) {
      if (waiting != null) {
        waiting.cancel();
      }
      if (ended != null) {
        ended.cancel();
      }
    }
    permit.settle((long) measured.promptTokens() + measured.completionTokens());
    if (ended != null) {
      scheduler.finished(ended.workerId());
    }
    meter.finish(facts, measured, sink);
  }
}
