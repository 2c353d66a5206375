package dev.flotilla.gateway.openai;

import dev.flotilla.gateway.service.ResponseSink;
import dev.flotilla.gateway.service.RunningRequest;
import io.grpc.Deadline;
import io.grpc.Status;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerResponse;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The HTTP side of one OpenAI request's life, shared by every endpoint: a closed connection cancels
 * the request; the HTTP timeout cancels it and answers 504 through {@link
 * #fail(io.grpc.StatusRuntimeException)}. Subclasses answer the request and call {@link #ended()}
 * (holding this object's lock, which guards their state too) once the response is written.
 */
abstract class HttpExchange implements ResponseSink {
  protected final HttpServerResponse response;
  private final Vertx vertx;
  // guarded by this
  private boolean ended;
  private RunningRequest run;
  private Boolean abandonedWithDeadline;
  private long timer = -1;

  HttpExchange(HttpServerResponse response, Vertx vertx) {
    this.response = response;
    this.vertx = vertx;
  }

  /**
   * Starts the request through {@code start} (given the request's deadline); returns once it is
   * admitted or answered.
   */
  final void run(Function<Deadline, RunningRequest> start, long timeoutNanos) {
    response.closeHandler(v -> abandon(false));
    long t =
        vertx.setTimer(
            Math.max(1, TimeUnit.NANOSECONDS.toMillis(timeoutNanos)), id -> abandon(true));
    synchronized (this) {
      timer = t;
    }
    RunningRequest r = start.apply(Deadline.after(timeoutNanos, TimeUnit.NANOSECONDS));
    Boolean cancelNow;
    synchronized (this) {
      run = r;
      cancelNow = abandonedWithDeadline;
    }
    if (r != null && cancelNow != null) {
      r.clientCancelled(cancelNow);
    }
  }

  /** The running request; null before it was admitted or once it was answered at admission. */
  protected final synchronized RunningRequest running() {
    return run;
  }

  /** Whether the response was written or the client went away; the caller holds the lock. */
  protected final boolean isEnded() {
    return ended;
  }

  /** The response is written, or the client is gone: nothing more is sent. Holds the lock. */
  protected final void ended() {
    ended = true;
    vertx.cancelTimer(timer);
  }

  /** The client went away, or the HTTP timeout passed (answered 504). */
  private void abandon(boolean deadline) {
    RunningRequest r;
    synchronized (this) {
      if (ended) {
        return;
      }
      r = run;
      abandonedWithDeadline = deadline;
    }
    if (r != null) {
      r.clientCancelled(deadline);
    }
    if (deadline) {
      fail(
          Status.DEADLINE_EXCEEDED
              .withDescription("the request did not finish within the gateway's HTTP timeout")
              .asRuntimeException());
    } else {
      synchronized (this) {
        ended();
      }
    }
  }
}
