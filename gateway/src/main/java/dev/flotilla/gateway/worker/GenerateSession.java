package dev.flotilla.gateway.worker;

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
import dev.flotilla.gateway.worker.WorkerClient.GenerateCall;
import dev.flotilla.gateway.worker.WorkerClient.GenerateListener;
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
 * <p>Each call keeps Generate's contract ({@link WorkerClient}): credit-based flow control
 * (CallCredit), cancellation (CallCancel), the client's deadline (enforced here, by a timer, as
 * the stream itself has none), and its listener's callbacks in order, never overlapping. When the
 * stream breaks (the worker died or went away), every open call fails with the stream's status,
 * as its own stream would have. A worker without GenerateStream answers UNIMPLEMENTED before
 * anything else; the calls then move to per-call Generate streams ({@link Fallback}).
 *
 * <p>Locks: the session's monitor guards the request stream (sends) and is never held while a
 * listener runs; a call's monitor is held while its listener runs (so a deadline firing cannot
 * overlap a delivery), and {@link SessionCall#request}/{@link SessionCall#cancel} never take it,
 * because listeners call them under locks of their own.
 */
final class GenerateSession
    implements ClientResponseObserver<GenerateStreamRequest, GenerateStreamResponse> {

  /** Starts a call on a per-call Generate stream instead. */
  interface Fallback {
    GenerateCall start(WorkerGenerateRequest request, GenerateListener listener, Deadline deadline,
        int initialMessages);
  }

  /** Hears that a session ended, to stop handing it calls. */
  interface EndListener {
    /** @param unimplemented the worker does not serve GenerateStream */
    void ended(GenerateSession session, boolean unimplemented);
  }

  private final Map<Long, SessionCall> calls = new ConcurrentHashMap<>();
  private final AtomicLong ids = new AtomicLong();
  private final ScheduledExecutorService timer;
  private final Fallback fallback;
  private final EndListener endListener;
  private ClientCallStreamObserver<GenerateStreamRequest> requests; // sends guarded by this
  private boolean closed;           // guarded by this: takes no new calls
  private boolean retiring;         // guarded by this: half-closes once its last call ends
  private boolean finished;         // guarded by this: the request stream is closed
  private volatile boolean heard;   // a response arrived: the worker serves GenerateStream
  /** The thread reading a response, whose listeners' credit is gathered into one message. */
  private Thread dispatching;               // guarded by this
  private CallCredits.Builder heldCredits;  // guarded by this

  private GenerateSession(ScheduledExecutorService timer, Fallback fallback,
      EndListener endListener) {
    this.timer = timer;
    this.fallback = fallback;
    this.endListener = endListener;
  }

  /**
   * Opens the stream. Callbacks run on the transport thread that decoded them. Call it with the
   * root Context attached: the stream must not inherit a request's cancellation.
   */
  static GenerateSession open(Channel channel, ScheduledExecutorService timer, Fallback fallback,
      EndListener endListener) {
    GenerateSession session = new GenerateSession(timer, fallback, endListener);
    WorkerGrpc.newStub(channel).withExecutor(MoreExecutors.directExecutor())
        .generateStream(session);
    return session;
  }

  @Override
  public void beforeStart(ClientCallStreamObserver<GenerateStreamRequest> call) {
    requests = call;
  }

  /** Starts a call; null when the session has ended (open another). */
  GenerateCall start(WorkerGenerateRequest request, GenerateListener listener, Deadline deadline,
      int initialMessages) {
    SessionCall call = new SessionCall(ids.incrementAndGet(), request, listener, deadline,
        initialMessages);
    synchronized (this) {
      if (closed) {
        return null;
      }
      calls.put(call.id, call);
      requests.onNext(GenerateStreamRequest.newBuilder().setStart(CallStart.newBuilder()
          .setCallId(call.id).setRequest(request).setInitialCredit(initialMessages)).build());
    }
    call.armDeadline();
    return call;
  }

  /**
   * Takes no new calls and lets the open ones finish; the stream is half-closed once the last
   * one ends, so the worker ends it and the channel can shut down.
   */
  void retire() {
    synchronized (this) {
      closed = true;
      retiring = true;
    }
    callEnded();
  }

  /** Cancels the stream: every open call fails as UNAVAILABLE (the gateway is shutting down). */
  void close() {
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
    send(GenerateStreamRequest.newBuilder()
        .setCredits(CallCredits.newBuilder().addCredits(credit)).build());
  }

  @Override
  public void onNext(GenerateStreamResponse response) {
    heard = true;
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
   * shutting down resets it as CANCELLED): the worker went away, not the call, and a call that had
   * no tokens yet may be retried elsewhere.
   */
  private void ended(Status streamStatus) {
    boolean unimplemented = !heard && streamStatus.getCode() == Status.Code.UNIMPLEMENTED;
    Status status = streamStatus.getCode() == Status.Code.UNAVAILABLE ? streamStatus
        : Status.UNAVAILABLE.withDescription("the worker's generate stream ended: "
            + streamStatus.getCode() + (streamStatus.getDescription() == null ? ""
                : " " + streamStatus.getDescription())).withCause(streamStatus.getCause());
    synchronized (this) {
      closed = true;
      finished = true;
    }
    endListener.ended(this, unimplemented);
    for (Long id : calls.keySet()) {
      SessionCall call = calls.remove(id);
      if (call == null) {
        continue;
      }
      if (unimplemented) {
        call.reroute();
      } else {
        call.fail(status);
      }
    }
  }

  /** One call on the stream. */
  private final class SessionCall implements GenerateCall {
    private final long id;
    private final WorkerGenerateRequest request;
    private final GenerateListener listener;
    private final Deadline deadline;
    private final int initialMessages;
    private volatile boolean ended;            // written under this call's monitor
    private volatile ScheduledFuture<?> deadlineTimer;
    private volatile boolean cancelled;
    private volatile GenerateCall rerouted;

    SessionCall(long id, WorkerGenerateRequest request, GenerateListener listener,
        Deadline deadline, int initialMessages) {
      this.id = id;
      this.request = request;
      this.listener = listener;
      this.deadline = deadline;
      this.initialMessages = initialMessages;
    }

    void armDeadline() {
      if (deadline == null) {
        return;
      }
      try {
        deadlineTimer = timer.schedule(this::expire,
            deadline.timeRemaining(TimeUnit.NANOSECONDS), TimeUnit.NANOSECONDS);
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
        listener.onError(Status.fromCodeValue(event.getError().getCode())
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
      listener.onError(Status.DEADLINE_EXCEEDED.withDescription(
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

    /** The worker lacks GenerateStream: the call goes on a Generate stream of its own. */
    synchronized void reroute() {
      if (ended) {
        return;
      }
      end();
      GenerateCall call = fallback.start(request, listener, deadline, initialMessages);
      rerouted = call;
      if (cancelled) {
        call.cancel("client cancelled");
      }
    }

    @Override
    public void request(int messages) {
      GenerateCall call = rerouted;
      if (call != null) {
        call.request(messages);
      } else if (messages > 0 && calls.containsKey(id)) {
        credit(id, messages);
      }
    }

    @Override
    public void cancel(String reason) {
      cancelled = true;
      GenerateCall call = rerouted;
      if (call != null) {
        call.cancel(reason);
        return;
      }
      if (calls.remove(id, this)) {
        sendCancel(reason);
        stopTimer();
        callEnded();
      }
    }

    private void sendCancel(String reason) {
      send(GenerateStreamRequest.newBuilder().setCancel(
          CallCancel.newBuilder().setCallId(id).setReason(reason == null ? "" : reason)).build());
    }
  }
}
