package dev.flotilla.gateway.service;

import dev.flotilla.api.crd.Priority;
import dev.flotilla.api.v1.HeldProgress;
import dev.flotilla.api.v1.TokenChunk;
import dev.flotilla.api.worker.v1.LoadAdapterRequest;
import dev.flotilla.api.worker.v1.WorkerFinal;
import dev.flotilla.api.worker.v1.WorkerGenerateRequest;
import dev.flotilla.gateway.limit.TenantLimiter;
import dev.flotilla.gateway.metrics.GatewayMetrics;
import dev.flotilla.gateway.route.WorkerView;
import dev.flotilla.gateway.schedule.ModelScheduler;
import dev.flotilla.gateway.status.GatewayStatus;
import dev.flotilla.gateway.time.Ticker;
import dev.flotilla.workerlink.GenerateCall;
import dev.flotilla.workerlink.GenerateListener;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.HashSet;
import java.util.Set;
import org.jboss.logging.Logger;

/**
 * One admitted request, from its model's scheduler to the meter: the route and stream stages. Holds
 * what they share: the scheduler ticket, the worker call, what was streamed; its {@link
 * RequestPhase} says where it stands, and only {@link #moveTo} changes it.
 *
 * <p>Exactly one outcome: {@link #finish} runs once with a {@link RequestOutcome}, settles the
 * tenant's limits, frees the worker slot and hands the measured outcome to the {@link UsageMeter},
 * which bills it and answers the client. Nothing here blocks: every step may run on a transport
 * thread. A worker failure before the first token retries on another worker; after it, the client
 * gets ABORTED and no token is ever sent twice.
 */
final class RequestRun implements ModelScheduler.Request, RunningRequest {
  private static final Logger LOG = Logger.getLogger(RequestRun.class);

  /**
   * Worker messages requested ahead of the client, and the smallest credit handed back at once: one
   * request to the worker per 8 tokens instead of per token, and at most 16 chunks buffered for a
   * client that is not reading.
   */
  static final int WORKER_WINDOW = 16;

  static final int WORKER_WINDOW_BATCH = 8;

  private final RequestFacts facts;
  private final TenantLimiter.Permit permit;
  private final ResponseSink sink;
  private final ModelScheduler scheduler;
  private final WorkerAccess workers;
  private final GatewayMetrics.ModelMeters meters;
  private final Ticker ticker;
  private final UsageMeter meter;
  private final Set<String> excluded = new HashSet<>();
  private final Object lock = new Object();

  // guarded by lock
  private RequestPhase phase = RequestPhase.QUEUED;
  private ModelScheduler.Ticket ticket;
  private int attempts;
  private String workerId;
  private GenerateCall call;
  private StreamWindow window;
  private long queuedNanos;
  private long firstTokenAt = -1;
  private long lastTokenAt = -1;
  private int completionTokens;

  /** The prompt length the current worker announced; 0 until it does. */
  private int announcedPromptTokens;

  RequestRun(
      RequestFacts facts,
      TenantLimiter.Permit permit,
      ResponseSink sink,
      ModelScheduler scheduler,
      WorkerAccess workers,
      GatewayMetrics.ModelMeters meters,
      Ticker ticker,
      UsageMeter meter) {
    this.facts = facts;
    this.permit = permit;
    this.sink = sink;
    this.scheduler = scheduler;
    this.workers = workers;
    this.meters = meters;
    this.ticker = ticker;
    this.meter = meter;
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

  // ---- ModelScheduler.Request ----

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
  public String adapter() {
    return facts.adapterName();
  }

  @Override
  public Set<String> excluded() {
    synchronized (lock) {
      return excluded.isEmpty() ? Set.of() : Set.copyOf(excluded);
    }
  }

  @Override
  public boolean wantsProgress() {
    return facts.request().getReportProgress();
  }

  @Override
  public void progress(HeldProgress progress) {
    synchronized (lock) {
      if (phase != RequestPhase.DONE) {
        sink.progress(progress);
      }
    }
  }

  @Override
  public void reject(ModelScheduler.RejectReason reason, StatusRuntimeException error) {
    meter.rejected(reason.label());
    finish(RequestOutcome.failed(error));
  }

  @Override
  public void dispatch(WorkerView worker, long queued) {
    String address = workers.address(worker.id());
    boolean routed;
    synchronized (lock) {
      routed = moveTo(RequestPhase.ROUTED);
      if (routed) {
        workerId = worker.id();
        if (address != null) {
          if (attempts == 0) {
            queuedNanos = queued;
          }
          attempts++;
        }
      }
    }
    if (!routed) {
      scheduler.finished(worker.id()); // the request finished while it waited
      return;
    }
    if (address == null) {
      onWorkerError(worker.id(), Status.UNAVAILABLE.withDescription("worker went away"));
      return;
    }
    meters.queueTime(queued);
    String adapter = adapter();
    if (!adapter.isEmpty()
        && !worker.residentAdapters().contains(adapter)
        && !worker.loadingAdapters().contains(adapter)) {
      // The base model as namespace/name, as the operator names the worker's model.
      workers
          .client()
          .loadAdapter(
              address,
              LoadAdapterRequest.newBuilder()
                  .setName(adapter)
                  .setSource(facts.grant().adapter().source())
                  .setBaseModel(facts.modelKey())
                  .build())
          .whenComplete(
              (ok, err) -> {
                if (err == null) {
                  startCall(worker.id(), address);
                } else {
                  onWorkerError(worker.id(), Status.fromThrowable(err));
                }
              });
    } else {
      startCall(worker.id(), address);
    }
  }

  private void startCall(String worker, String address) {
    WorkerGenerateRequest request =
        facts.workerRequest(scheduler.virtualCounter(facts.tenant().name()));
    synchronized (lock) {
      if (phase != RequestPhase.ROUTED || !worker.equals(workerId)) {
        return;
      }
      if (facts.deadline() != null && facts.deadline().isExpired()) {
        return; // the client's cancellation handler finishes the request
      }
      moveTo(RequestPhase.STREAMING);
      window = new StreamWindow(WORKER_WINDOW, WORKER_WINDOW_BATCH);
      call =
          workers
              .client()
              .generate(address, request, new Listener(worker), facts.deadline(), window.open());
    }
  }

  /** Binds worker callbacks to the attempt they belong to, so a stale call cannot interfere. */
  private final class Listener implements GenerateListener {
    private final String worker;

    Listener(String worker) {
      this.worker = worker;
    }

    @Override
    public void onPromptCounted(int promptTokens) {
      synchronized (lock) {
        if (phase == RequestPhase.STREAMING && worker.equals(workerId)) {
          announcedPromptTokens = promptTokens;
        }
      }
    }

    @Override
    public void onTokens(TokenChunk chunk) {
      RequestRun.this.onTokens(worker, chunk);
    }

    @Override
    public void onFinal(WorkerFinal fin) {
      RequestRun.this.onFinal(worker, fin);
    }

    @Override
    public void onError(Status status) {
      onWorkerError(worker, status);
    }
  }

  private void onTokens(String worker, TokenChunk chunk) {
    // Tokens are the ids; a chunk may carry text alone (the worker flushes text it held back,
    // such as an incomplete character, when the sequence ends), which is no new token.
    int n = chunk.getTokenIdsCount();
    synchronized (lock) {
      if (phase != RequestPhase.STREAMING || !worker.equals(workerId)) {
        return;
      }
      long now = ticker.nanos();
      if (firstTokenAt < 0) {
        firstTokenAt = now;
        meters.timeToFirstToken(now - facts.arrived());
      } else {
        meters.timeBetweenTokens(now - lastTokenAt);
      }
      lastTokenAt = now;
      completionTokens += n;
      sink.tokens(chunk);
      int credit = window.received(sink.isReady());
      if (credit > 0) {
        call.request(credit);
      }
    }
    scheduler.charge(facts.tenant().name(), n);
  }

  /** The client can take more: resume the worker stream if it was paused. */
  @Override
  public void onClientReady() {
    synchronized (lock) {
      if (phase == RequestPhase.STREAMING && sink.isReady()) {
        int credit = window.clientReady();
        if (credit > 0) {
          call.request(credit);
        }
      }
    }
  }

  private void onFinal(String worker, WorkerFinal fin) {
    synchronized (lock) {
      if (phase != RequestPhase.STREAMING || !worker.equals(workerId)) {
        return;
      }
    }
    finish(RequestOutcome.completed(fin));
  }

  private void onWorkerError(String worker, Status status) {
    int streamed;
    synchronized (lock) {
      if (phase == RequestPhase.DONE || !worker.equals(workerId)) {
        return;
      }
      streamed = completionTokens;
    }
    if (status.getCode() == Status.Code.DEADLINE_EXCEEDED
        && facts.deadline() != null
        && facts.deadline().isExpired()) {
      finish(RequestOutcome.deadlinePassed());
      return;
    }
    if (streamed > 0) {
      finish(
          RequestOutcome.failed(
              GatewayStatus.aborted(
                  "the worker failed after "
                      + streamed
                      + " tokens were streamed ("
                      + status.getCode()
                      + "); not retried")));
      return;
    }
    retryOrFail(worker, status);
  }

  private void retryOrFail(String worker, Status status) {
    boolean retry;
    synchronized (lock) {
      if (!worker.equals(workerId) || !moveTo(RequestPhase.QUEUED)) {
        return;
      }
      excluded.add(worker);
      workerId = null;
      call = null;
      retry = retryable(status) && attempts < workers.maxAttempts();
    }
    scheduler.finished(worker);
    if (retry) {
      LOG.debugf(
          "request %s: worker %s failed before the first token (%s); retrying",
          facts.requestId(), worker, status);
      scheduler.retry(this);
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

  /** The client went away (cancelled or its deadline passed). */
  @Override
  public void clientCancelled(boolean deadlineExceeded) {
    finish(RequestOutcome.clientGone(deadlineExceeded));
  }

  /**
   * The one way out, whatever the phase: settles the tenant's limits, frees the worker slot and
   * hands the measured outcome to the meter. The request is DONE before anything is cancelled, so
   * the worker's answer to a cancellation (CANCELLED, or a Final that crossed it) finds it finished
   * and cannot end it a second time as a worker failure.
   */
  private void finish(RequestOutcome outcome) {
    String worker;
    GenerateCall runningCall;
    ModelScheduler.Ticket waiting;
    RequestOutcome measured;
    synchronized (lock) {
      if (!moveTo(RequestPhase.DONE)) {
        return;
      }
      worker = workerId;
      workerId = null;
      runningCall = call;
      waiting = ticket;
      // The worker's count when it sent one (its final message, else its first tokens: a stream
      // cut after tokens still bills the real prompt), else the gateway's estimate for a request
      // that reached a worker.
      int prompt =
          outcome.promptTokens() > 0
              ? outcome.promptTokens()
              : announcedPromptTokens > 0
                  ? announcedPromptTokens
                  : worker != null ? (int) facts.promptEstimate() : 0;
      long ttft = firstTokenAt < 0 ? -1 : (firstTokenAt - facts.arrived()) / 1_000_000;
      measured =
          outcome.measured(
              prompt,
              completionTokens,
              queuedNanos / 1_000_000,
              ttft,
              (ticker.nanos() - facts.arrived()) / 1_000_000);
    }
    if (outcome.clientGone()) {
      if (waiting != null) {
        waiting.cancel();
      }
      if (runningCall != null) {
        runningCall.cancel("client cancelled");
      }
    }
    permit.settle((long) measured.promptTokens() + measured.completionTokens());
    if (worker != null) {
      scheduler.finished(worker);
    }
    meter.finish(facts, measured, sink);
  }
}
