package dev.flotilla.sdk;

import dev.flotilla.api.v1.GenerateRequest;
import dev.flotilla.api.v1.GenerateResponse;
import dev.flotilla.api.v1.InferenceGrpc;
import io.grpc.Deadline;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * One logical {@code Generate} call: one or more gRPC attempts, retried while no tokens have been
 * delivered, with the downstream's demand passed to gRPC's flow control so the server never sends
 * more than the consumer asked for. Both {@link TokenStream} and the {@code Flow.Publisher} sit on
 * top of it.
 *
 * <p>Signals to the {@link Listener} are serialized: gRPC serializes the callbacks of one attempt,
 * and a retry starts only after the previous attempt has ended.
 */
final class GenerateCall {

  /**
   * Receives the events of the call; after {@link #onError} or {@link #onComplete} nothing else.
   */
  interface Listener {
    void onEvent(StreamEvent event);

    void onError(FlotillaException failure);

    void onComplete();
  }

  private final InferenceGrpc.InferenceStub stub;
  private final GenerateRequest request;
  private final Deadline deadline;
  private final RetryPlanner planner;
  private final ScheduledExecutorService retryScheduler;
  private final Listener listener;

  // Everything below is guarded by `this`.
  /** Events the downstream asked for and has not yet received; Long.MAX_VALUE means unbounded. */
  private long demand;

  /** Demand that arrived while the current attempt was starting, to pass to gRPC once it has. */
  private long unforwardedDemand;

  /** The running attempt, or null between attempts. */
  private ClientCallStreamObserver<GenerateRequest> attempt;

  private boolean attemptStarted;
  private int attempts;
  private boolean tokensDelivered;

  /** Completed, failed or cancelled: no more signals, no more attempts. */
  private boolean done;

  private Future<?> pendingRetry;

  GenerateCall(
      InferenceGrpc.InferenceStub stub,
      GenerateRequest request,
      Deadline deadline,
      RetryPlanner planner,
      ScheduledExecutorService retryScheduler,
      Listener listener) {
    this.stub = stub;
    this.request = request;
    this.deadline = deadline;
    this.planner = planner;
    this.retryScheduler = retryScheduler;
    this.listener = listener;
  }

  void start() {
    startAttempt();
  }

  /** Lets {@code n} more events through; safe from any thread. */
  void request(long n) {
    ClientCallStreamObserver<GenerateRequest> forwardTo;
    int credits;
    synchronized (this) {
      if (done) {
        return;
      }
      long before = demand;
      demand = saturatedAdd(demand, n);
      credits = grpcCredits(demand) - grpcCredits(before);
      if (attempt == null) {
        return; // the next attempt starts with the whole demand
      }
      if (!attemptStarted) {
        unforwardedDemand += credits;
        return;
      }
      forwardTo = attempt;
    }
    if (credits > 0) {
      forwardTo.request(credits);
    }
  }

  /**
   * Stops the call: cancels the running attempt or the pending retry; the listener hears nothing
   * more.
   */
  void cancel() {
    ClientCallStreamObserver<GenerateRequest> toCancel = null;
    synchronized (this) {
      if (done) {
        return;
      }
      done = true;
      if (pendingRetry != null) {
        pendingRetry.cancel(false);
      }
      if (attempt != null && attemptStarted) {
        toCancel = attempt;
      }
      // An attempt still starting is cancelled by startAttempt once gRPC has started it.
    }
    if (toCancel != null) {
      toCancel.cancel("cancelled by the client", null);
    }
  }

  private void startAttempt() {
    AttemptObserver observer = new AttemptObserver();
    synchronized (this) {
      if (done) {
        return;
      }
      attempts++;
      pendingRetry = null;
    }
    stub.withDeadline(deadline).generate(request, observer);

    int extraCredits;
    boolean cancelNow;
    synchronized (this) {
      if (attempt != observer.stream) {
        return; // the attempt already ended, synchronously
      }
      attemptStarted = true;
      cancelNow = done;
      extraCredits = (int) unforwardedDemand;
      unforwardedDemand = 0;
    }
    if (cancelNow) {
      observer.stream.cancel("cancelled by the client", null);
    } else if (extraCredits > 0) {
      observer.stream.request(extraCredits);
    }
  }

  private Duration timeLeft() {
    return Duration.ofNanos(Math.max(0, deadline.timeRemaining(TimeUnit.NANOSECONDS)));
  }

  /**
   * gRPC counts requested messages in an int; demand beyond that is passed on as it is consumed.
   */
  private static int grpcCredits(long demand) {
    return (int) Math.min(demand, Integer.MAX_VALUE);
  }

  private static long saturatedAdd(long a, long b) {
    long sum = a + b;
    return sum < 0 ? Long.MAX_VALUE : sum;
  }

  /** The observer of one attempt. */
  private final class AttemptObserver
      implements ClientResponseObserver<GenerateRequest, GenerateResponse> {
    private ClientCallStreamObserver<GenerateRequest> stream;

    @Override
    public void beforeStart(ClientCallStreamObserver<GenerateRequest> stream) {
      this.stream = stream;
      synchronized (GenerateCall.this) {
        // A retry picks up the demand its predecessor did not satisfy.
        stream.disableAutoRequestWithInitial(grpcCredits(demand));
        attempt = stream;
        attemptStarted = false;
        unforwardedDemand = 0;
      }
    }

    @Override
    public void onNext(GenerateResponse response) {
      StreamEvent event = ProtoMapping.streamEvent(response);
      boolean replenish;
      synchronized (GenerateCall.this) {
        if (done) {
          return;
        }
        if (event == null) {
          replenish =
              true; // an event kind this SDK does not know: skipped, so its credit is returned
        } else {
          if (demand != Long.MAX_VALUE) {
            demand--;
          }
          replenish = demand >= Integer.MAX_VALUE;
          tokensDelivered |= event instanceof StreamEvent.Tokens;
        }
      }
      if (replenish) {
        stream.request(1);
      }
      if (event != null) {
        listener.onEvent(event);
      }
    }

    @Override
    public void onError(Throwable t) {
      FlotillaException failure = StatusErrors.toException(t, request.getRequestId());
      synchronized (GenerateCall.this) {
        if (attempt == stream) {
          attempt = null;
        }
        if (done) {
          return;
        }
        if (tokensDelivered) {
          // Retrying now could repeat or contradict text the consumer already has.
          failure = StatusErrors.afterTokensDelivered(failure);
        } else {
          Optional<Duration> delay = planner.delayBeforeRetry(attempts, failure, timeLeft());
          if (delay.isPresent()) {
            try {
              pendingRetry =
                  retryScheduler.schedule(
                      GenerateCall.this::startAttempt, delay.get().toNanos(), TimeUnit.NANOSECONDS);
              return;
            } catch (RejectedExecutionException clientClosed) {
              // The client is closing: surface this failure rather than retry.
            }
          }
        }
        done = true;
      }
      listener.onError(failure);
    }

    @Override
    public void onCompleted() {
      synchronized (GenerateCall.this) {
        if (attempt == stream) {
          attempt = null;
        }
        if (done) {
          return;
        }
        done = true;
      }
      listener.onComplete();
    }
  }
}
