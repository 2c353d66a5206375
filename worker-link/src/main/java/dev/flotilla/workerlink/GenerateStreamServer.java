package dev.flotilla.workerlink;

import dev.flotilla.api.worker.v1.CallCredit;
import dev.flotilla.api.worker.v1.CallError;
import dev.flotilla.api.worker.v1.CallEvent;
import dev.flotilla.api.worker.v1.CallStart;
import dev.flotilla.api.worker.v1.GenerateStreamRequest;
import dev.flotilla.api.worker.v1.GenerateStreamResponse;
import dev.flotilla.api.worker.v1.WorkerGenerateRequest;
import dev.flotilla.api.worker.v1.WorkerGenerateResponse;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.BiConsumer;

/**
 * The worker's side of {@code Worker.GenerateStream}, built on an ordinary Generate method: each
 * call of the stream is served by {@code generate}, which sees a {@link ServerCallStreamObserver}
 * of its own. That observer is ready while the call has credit, runs its cancel handler on a
 * CallCancel or when the stream ends, and its messages join the stream's next response.
 *
 * <p>Why: a gateway relays every token of every call. One HTTP/2 message per call per token costs
 * the worker a frame and a write each, and the gateway a decode and a dispatch through grpc's call
 * machinery each, at every engine step. Here a step's messages for all of the gateway's calls leave
 * in one response.
 *
 * <p>Batching: given a {@code flushExecutor} (the stream's event loop), the first message of a
 * batch schedules the batch's send as a task of that executor, so every message written before the
 * task runs (an engine pass's writes, handed to the loop as one task) leaves with it. Without one,
 * each message leaves at once.
 *
 * <p>The gateway's side of the stream is {@link GenerateSession}.
 */
public final class GenerateStreamServer implements StreamObserver<GenerateStreamRequest> {
  /**
   * The most events, and about the most bytes, one response carries; a larger batch leaves in
   * parts, well under grpc's default 4 MiB limit on a received message (a call that was out of
   * credit sends its held-back tokens as one chunk).
   */
  static final int MAX_EVENTS_PER_RESPONSE = 1024;

  static final int MAX_BYTES_PER_RESPONSE = 1 << 20;

  private final ServerCallStreamObserver<GenerateStreamResponse> out;
  private final BiConsumer<WorkerGenerateRequest, StreamObserver<WorkerGenerateResponse>> generate;
  private final Executor flushExecutor;
  private final Map<Long, MultiplexedCall> calls = new ConcurrentHashMap<>();
  private final Object sendLock = new Object();
  private GenerateStreamResponse.Builder batch; // guarded by sendLock
  private int batchBytes; // guarded by sendLock
  private boolean flushScheduled; // guarded by sendLock
  private boolean ended; // guarded by sendLock: nothing more is sent

  private GenerateStreamServer(
      ServerCallStreamObserver<GenerateStreamResponse> out,
      BiConsumer<WorkerGenerateRequest, StreamObserver<WorkerGenerateResponse>> generate,
      Executor flushExecutor) {
    this.out = out;
    this.generate = generate;
    this.flushExecutor = flushExecutor;
  }

  /**
   * Serves one GenerateStream call.
   *
   * @param out the stream's response observer, as grpc hands it to the service
   * @param generate the service's Generate method
   * @param flushExecutor where batches are sent from; null to send each message at once
   * @return the stream's request observer, for the service to return
   */
  public static StreamObserver<GenerateStreamRequest> serve(
      StreamObserver<GenerateStreamResponse> out,
      BiConsumer<WorkerGenerateRequest, StreamObserver<WorkerGenerateResponse>> generate,
      Executor flushExecutor) {
    ServerCallStreamObserver<GenerateStreamResponse> call =
        (ServerCallStreamObserver<GenerateStreamResponse>) out;
    GenerateStreamServer server = new GenerateStreamServer(call, generate, flushExecutor);
    call.setOnReadyHandler(server::flush);
    call.setOnCancelHandler(server::end);
    return server;
  }

  @Override
  public void onNext(GenerateStreamRequest request) {
    switch (request.getOpCase()) {
      case START -> start(request.getStart());
      case CREDITS -> {
        for (CallCredit credit : request.getCredits().getCreditsList()) {
          MultiplexedCall call = calls.get(credit.getCallId());
          if (call != null) {
            call.credit(credit.getMessages());
          }
        }
      }
      case CANCEL -> {
        MultiplexedCall call = calls.remove(request.getCancel().getCallId());
        if (call != null) {
          call.cancelled();
        }
      }
      case OP_NOT_SET -> {} // an op this worker does not know: nothing to do
    }
  }

  private void start(CallStart start) {
    long id = start.getCallId();
    if (start.getInitialCredit() < 1) {
      send(
          error(
              id,
              Status.INVALID_ARGUMENT.withDescription(
                  "initial_credit must be at least 1, got " + start.getInitialCredit())));
      return;
    }
    MultiplexedCall call = new MultiplexedCall(id, start.getInitialCredit());
    if (calls.putIfAbsent(id, call) != null) {
      send(
          error(id, Status.INVALID_ARGUMENT.withDescription("call id " + id + " is already open")));
      return;
    }
    try {
      generate.accept(start.getRequest(), call);
    } catch (RuntimeException e) {
      call.onError(Status.INTERNAL.withDescription("generate failed: " + e).asRuntimeException());
    }
  }

  /** The gateway closed its side: the stream is over. */
  @Override
  public void onCompleted() {
    end();
    try {
      out.onCompleted();
    } catch (RuntimeException alreadyCancelled) {
      // nothing left to tell
    }
  }

  @Override
  public void onError(Throwable t) {
    end();
  }

  /** The stream is over: every open call is cancelled and nothing more is sent. */
  private void end() {
    synchronized (sendLock) {
      ended = true;
      batch = null;
      batchBytes = 0;
    }
    for (Long id : calls.keySet()) {
      MultiplexedCall call = calls.remove(id);
      if (call != null) {
        call.cancelled();
      }
    }
  }

  private void send(CallEvent event) {
    boolean schedule;
    synchronized (sendLock) {
      if (ended) {
        return;
      }
      if (batch == null) {
        batch = GenerateStreamResponse.newBuilder();
      }
      batch.addEvents(event);
      batchBytes += event.getSerializedSize();
      if (batch.getEventsCount() >= MAX_EVENTS_PER_RESPONSE
          || batchBytes >= MAX_BYTES_PER_RESPONSE) {
        flushLocked(true);
        return;
      }
      if (flushExecutor == null) {
        flushLocked(false);
        return;
      }
      schedule = !flushScheduled;
      flushScheduled = true;
    }
    if (schedule) {
      try {
        flushExecutor.execute(this::flush);
      } catch (RejectedExecutionException closing) {
        flush();
      }
    }
  }

  private void flush() {
    synchronized (sendLock) {
      flushScheduled = false;
      flushLocked(false);
    }
  }

  /**
   * Sends the batch unless the transport is full; then the stream's ready handler sends it. What a
   * batch holds while it waits is bounded by the calls' credit.
   *
   * @param full the batch reached its size limit: it goes to grpc's buffer, ready or not
   */
  private void flushLocked(boolean full) {
    if (ended || batch == null || (!full && !out.isReady())) {
      return;
    }
    GenerateStreamResponse response = batch.build();
    batch = null;
    batchBytes = 0;
    try {
      out.onNext(response);
    } catch (RuntimeException cancelled) {
      ended = true; // the cancel handler cancels the calls
    }
  }

  private static CallEvent error(long id, Status status) {
    CallError.Builder e = CallError.newBuilder().setCode(status.getCode().value());
    if (status.getDescription() != null) {
      e.setMessage(status.getDescription());
    }
    return CallEvent.newBuilder().setCallId(id).setError(e).build();
  }

  /** One call of the stream, as its Generate implementation sees it. */
  private final class MultiplexedCall extends ServerCallStreamObserver<WorkerGenerateResponse> {
    private final long id;
    private int credit; // guarded by this: token messages it may still send
    private boolean finalSent; // guarded by this
    private volatile boolean cancelled;
    private volatile boolean ended;
    private volatile Runnable onReady;
    private volatile Runnable onCancel;

    MultiplexedCall(long id, int credit) {
      this.id = id;
      this.credit = credit;
    }

    void credit(int messages) {
      boolean wasBlocked;
      synchronized (this) {
        wasBlocked = credit <= 0;
        credit += Math.max(0, messages);
      }
      Runnable handler = onReady;
      if (wasBlocked && messages > 0 && handler != null && !ended) {
        handler.run();
      }
    }

    void cancelled() {
      cancelled = true;
      Runnable handler = onCancel;
      if (handler != null && !ended) {
        handler.run();
      }
      ended = true;
    }

    @Override
    public synchronized boolean isReady() {
      return credit > 0 && !cancelled;
    }

    @Override
    public void onNext(WorkerGenerateResponse message) {
      if (cancelled) {
        throw Status.CANCELLED.withDescription("call cancelled").asRuntimeException();
      }
      synchronized (this) {
        if (message.hasTokens()) {
          credit--;
        } else if (message.hasFinal()) {
          finalSent = true;
        }
      }
      send(CallEvent.newBuilder().setCallId(id).setResponse(message).build());
    }

    @Override
    public void onError(Throwable t) {
      if (cancelled || !calls.remove(id, this)) {
        return;
      }
      ended = true;
      send(error(id, Status.fromThrowable(t)));
    }

    @Override
    public void onCompleted() {
      if (cancelled || !calls.remove(id, this)) {
        return;
      }
      ended = true;
      boolean withFinal;
      synchronized (this) {
        withFinal = finalSent;
      }
      if (!withFinal) {
        send(error(id, Status.INTERNAL.withDescription("the call ended without a final message")));
      }
    }

    @Override
    public boolean isCancelled() {
      return cancelled;
    }

    @Override
    public void setOnReadyHandler(Runnable handler) {
      onReady = handler;
    }

    @Override
    public void setOnCancelHandler(Runnable handler) {
      onCancel = handler;
    }

    @Override
    public void setCompression(String compression) {
      // the stream's compression applies
    }

    @Override
    public void disableAutoInboundFlowControl() {
      // a call's one request arrived with its start
    }

    @Override
    public void request(int count) {
      // as above
    }

    @Override
    public void setMessageCompression(boolean enable) {
      // the stream's compression applies
    }
  }
}
