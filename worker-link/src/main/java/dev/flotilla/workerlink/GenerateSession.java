package dev.flotilla.workerlink;

import com.google.common.util.concurrent.MoreExecutors;
import dev.flotilla.api.worker.v1.CallCancel;
import dev.flotilla.api.worker.v1.CallCredit;
import dev.flotilla.api.worker.v1.CallCredits;
import dev.flotilla.api.worker.v1.CallEvent;
import dev.flotilla.api.worker.v1.CallStart;
import dev.flotilla.api.worker.v1.GenerateStreamRequest;
import dev.flotilla.api.worker.v1.GenerateStreamResponse;
import dev.flotilla.api.worker.v1.WorkerGenerateRequest;
import dev.flotilla.api.worker.v1.WorkerGenerateResponse;
import dev.flotilla.api.worker.v1.WorkerGrpc;
import io.grpc.Channel;
import io.grpc.Deadline;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The gateway's Generate calls to one worker, carried by one {@code GenerateStream}: the worker
 * sends a pass of its engine's messages for all of them in one response, and the gateway decodes
 * one message per engine step instead of one per call per token.
 *
 * <p>Each call keeps Generate's contract ({@link GenerateCall}, {@link GenerateListener}):
 * credit-based flow control (CallCredit), cancellation (CallCancel), the client's deadline
 * (enforced here, by a timer, as the stream itself has none), and its listener's callbacks in
 * order, never overlapping. When the stream breaks (the worker died or went away), every open call
 * fails as UNAVAILABLE, so a call that has no tokens yet can be tried on another worker.
 *
 * <p>The worker's side of the stream is {@link GenerateStreamServer}.
 *
 * <p>Locks: the session's monitor guards the request stream (sends) and is never held while a
 * listener runs; a call's monitor is held while its listener runs (so a deadline firing cannot
 * overlap a delivery), and {@link SessionCall#request}/{@link SessionCall#cancel} never take it,
 * because listeners call them under locks of their own.
 */
public final class GenerateSession
    implements ClientResponseObserver<GenerateStreamRequest, GenerateStreamResponse> {

  /** Hears that a session ended, to stop handing it calls. */
  public interface EndListener {
    void ended(GenerateSession session);
  }

  private final Map<Long, SessionCall> calls = new ConcurrentHashMap<>();
  private final AtomicLong ids = new AtomicLong();
  private final ScheduledExecutorService timer;
  private final EndListener endListener;
  private ClientCallStreamObserver<GenerateStreamRequest> requests; // sends guarded by this
  private boolean closed; // guarded by this: takes no new calls
  private boolean retiring; // guarded by this: half-closes once its last call ends
  private boolean finished; // guarded by this: the request stream is closed

  /** The thread reading a response, whose listeners' credit is gathered into one message. */
  private Thread dispatching; // guarded by this

  private CallCredits.Builder heldCredits; // guarded by this

  private GenerateSession(ScheduledExecutorService timer, EndListener endListener) {
    this.timer = timer;
    this.endListener = endListener;
  }

  /**
   * Opens the stream. Callbacks run on the transport thread that decoded them. Call it with the
   * root Context attached: the stream must not inherit a request's cancellation.
   */
  public static GenerateSession open(
      Channel channel, ScheduledExecutorService timer, EndListener endListener) {
    GenerateSession session = new GenerateSession(timer, endListener);
    WorkerGrpc.newStub(channel)
        .withExecutor(MoreExecutors.directExecutor())
        .generateStream(session);
    return session;
  }

  @Override
  public void beforeStart(ClientCallStreamObserver<GenerateStreamRequest> call) {
    requests = call;
  }

  /** Starts a call; null when the session has ended (open another). */
  public GenerateCall start(
      WorkerGenerateRequest request,
      GenerateListener listener,
      Deadline deadline,
      int initialMessages) {
    SessionCall call = new SessionCall(ids.incrementAndGet(), listener, deadline);
    synchronized (this) {
      if (closed) {
        return null;
      }
      calls.put(call.id, call);
      requests.onNext(
          GenerateStreamRequest.newBuilder()
              .setStart(
                  CallStart.newBuilder()
                      .setCallId(call.id)
                      .setRequest(request)
                      .setInitialCredit(initialMessages))
              .build());
    }
    call.armDeadline();
    return call;
  }

  /**
   * Takes no new calls and lets the open ones finish; the stream is half-closed once the last one
   * ends, so the worker ends it and the channel can shut down.
   */
  public void retire() {
    synchronized (this) {
      closed = true;
      retiring = true;
    }
    callEnded();
  }

  /** Cancels the stream: every open call fails as UNAVAILABLE (the gateway is shutting down). */
  public void close() {
    synchronized (this) {
      closed = true;
      if (finished) {
        return;
      }
      finished = true; // no send follows the cancel
    }
    // Outside the monitor: a stream not yet started reports its end on this thread, and the
    // calls it fails take their own monitors.
    requests.cancel("the gateway is closing its worker client", null);
  }

  /** A call left {@link #calls}: a retiring session with none left half-closes. */
  private void callEnded() {
    synchronized (this) {
      if (retiring && !finished && calls.isEmpty()) {
        finished = true;
        requests.onCompleted();
      }
    }
  }

  private void send(GenerateStreamRequest message) {
    synchronized (this) {
      if (!finished) {
        requests.onNext(message);
      }
    }
  }

  /**
   * Credit for a call: gathered while this thread reads a response (the listeners hand credit back
   * as they relay tokens; one message then carries it all), else sent at once.
   */
  private void credit(long id, int messages) {
    CallCredit credit = CallCredit.newBuilder().setCallId(id).setMessages(messages).build();
    synchronized (this) {
      if (dispatching == Thread.currentThread()) {
        if (heldCredits == null) {
          heldCredits = CallCredits.newBuilder();
        }
        heldCredits.addCredits(credit);
        return;
      }
    }
    send(
        GenerateStreamRequest.newBuilder()
            .setCredits(CallCredits.newBuilder().addCredits(credit))
            .build());
  }

  @Override
  public void onNext(GenerateStreamResponse response) {
    synchronized (this) {
      dispatching = Thread.currentThread();
    }
    try {
      for (CallEvent event : response.getEventsList()) {
        SessionCall call = calls.get(event.getCallId());
        if (call != null) {
          call.deliver(event);
        }
      }
    } finally {
      CallCredits.Builder credits;
      synchronized (this) {
        dispatching = null;
        credits = heldCredits;
        heldCredits = null;
      }
      if (credits != null) {
        send(GenerateStreamRequest.newBuilder().setCredits(credits).build());
      }
    }
  }

  @Override
  public void onError(Throwable t) {
    ended(Status.fromThrowable(t));
  }

  @Override
  public void onCompleted() {
    ended(Status.UNAVAILABLE.withDescription("the worker ended the generate stream"));
  }

  /**
   * The stream is over. Its calls fail as UNAVAILABLE whatever the stream's status (a worker
   * shutting down resets it as CANCELLED; a worker older than GenerateStream answers
   * UNIMPLEMENTED): the worker went away, not the call, and a call that had no tokens yet may be
   * tried on another worker. The stream's own code stays in the description.
   */
  private void ended(Status streamStatus) {
    Status status =
        streamStatus.getCode() == Status.Code.UNAVAILABLE
            ? streamStatus
            : Status.UNAVAILABLE
                .withDescription(
                    "the worker's generate stream ended: "
                        + streamStatus.getCode()
                        + (streamStatus.getDescription() == null
                            ? ""
                            : " " + streamStatus.getDescription()))
                .withCause(streamStatus.getCause());
    synchronized (this) {
      closed = true;
      finished = true;
    }
    endListener.ended(this);
    for (Long id : calls.keySet()) {
      SessionCall call = calls.remove(id);
      if (call != null) {
        call.fail(status);
      }
    }
  }

  /** One call on the stream. */
  private final class SessionCall implements GenerateCall {
    private final long id;
    private final GenerateListener listener;
    private final Deadline deadline;
    private volatile boolean ended; // written under this call's monitor
    private volatile ScheduledFuture<?> deadlineTimer;
    private volatile boolean cancelled;

    SessionCall(long id, GenerateListener listener, Deadline deadline) {
      this.id = id;
      this.listener = listener;
      this.deadline = deadline;
    }

    void armDeadline() {
      if (deadline == null) {
        return;
      }
      try {
        deadlineTimer =
            timer.schedule(
                this::expire, deadline.timeRemaining(TimeUnit.NANOSECONDS), TimeUnit.NANOSECONDS);
      } catch (RejectedExecutionException closing) {
        return; // the client is closing; its streams end with it
      }
      if (ended || cancelled) {
        stopTimer(); // it ended while the timer was being set
      }
    }

    /** A message or the error of this call, in stream order. */
    synchronized void deliver(CallEvent event) {
      if (ended || cancelled) {
        return;
      }
      if (event.hasError()) {
        end();
        listener.onError(
            Status.fromCodeValue(event.getError().getCode())
                .withDescription(event.getError().getMessage()));
        return;
      }
      WorkerGenerateResponse r = event.getResponse();
      if (r.getPromptTokens() > 0) {
        listener.onPromptCounted(r.getPromptTokens());
      }
      if (r.hasTokens()) {
        listener.onTokens(r.getTokens());
      } else if (r.hasFinal()) {
        end();
        listener.onFinal(r.getFinal());
      }
    }

    synchronized void fail(Status status) {
      if (!ended && !cancelled) {
        end();
        listener.onError(status);
      }
    }

    private synchronized void expire() {
      if (ended || cancelled) {
        return;
      }
      end();
      sendCancel("deadline exceeded");
      listener.onError(
          Status.DEADLINE_EXCEEDED.withDescription(
              "deadline exceeded while waiting for the worker"));
    }

    /** Held under this call's monitor. */
    private void end() {
      ended = true;
      if (calls.remove(id, this)) {
        callEnded();
      }
      stopTimer();
    }

    private void stopTimer() {
      ScheduledFuture<?> t = deadlineTimer;
      if (t != null) {
        t.cancel(false);
      }
    }

    @Override
    public void request(int messages) {
      if (messages > 0 && calls.containsKey(id)) {
        credit(id, messages);
      }
    }

    @Override
    public void cancel(String reason) {
      cancelled = true;
      if (calls.remove(id, this)) {
        sendCancel(reason);
        stopTimer();
        callEnded();
      }
    }

    private void sendCancel(String reason) {
      send(
          GenerateStreamRequest.newBuilder()
              .setCancel(
                  CallCancel.newBuilder().setCallId(id).setReason(reason == null ? "" : reason))
              .build());
    }
  }
}
