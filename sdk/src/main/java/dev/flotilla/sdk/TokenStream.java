package dev.flotilla.sdk;

import io.grpc.Status;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.Function;

/**
 * The events of a streamed generation, read by blocking iteration:
 *
 * <pre>{@code
 * try (TokenStream stream = client.generate(request)) {
 *     for (StreamEvent event : stream) {
 *         if (event instanceof StreamEvent.Tokens tokens) {
 *             System.out.print(tokens.text());
 *         }
 *     }
 * }
 * }</pre>
 *
 * <p>Each event is requested from the server only when the previous one has been consumed, so a
 * slow reader slows the server down instead of filling memory. A failure is thrown from {@link
 * #hasNext()} as a {@link FlotillaException}. Closing the stream before its end cancels the call on
 * the server. One stream is iterated once, by one thread; {@link #close()} may be called from any
 * thread.
 */
public final class TokenStream
    implements Iterable<StreamEvent>, Iterator<StreamEvent>, AutoCloseable {
  /** Queued after the last event of a stream that completed or was closed. */
  private static final Object END = new Object();

  private final BlockingQueue<Object> signals = new LinkedBlockingQueue<>();
  private final GenerateCall call;
  private final String requestId;
  private boolean iterated;
  private boolean requested;
  private boolean ended;
  private StreamEvent next;

  TokenStream(Function<GenerateCall.Listener, GenerateCall> startCall, String requestId) {
    this.requestId = requestId;
    this.call =
        startCall.apply(
            new GenerateCall.Listener() {
              @Override
              public void onEvent(StreamEvent event) {
                signals.add(event);
              }

              @Override
              public void onError(FlotillaException failure) {
                signals.add(failure);
              }

              @Override
              public void onComplete() {
                signals.add(END);
              }
            });
    call.start();
  }

  /**
   * Returns this stream as its own iterator, so it can be used in a for-each loop once.
   *
   * @return this stream
   * @throws IllegalStateException when called a second time
   */
  @Override
  public Iterator<StreamEvent> iterator() {
    if (iterated) {
      throw new IllegalStateException("a TokenStream can be iterated only once");
    }
    iterated = true;
    return this;
  }

  /**
   * Waits for the next event, or the end of the stream.
   *
   * @return whether another event is available
   * @throws FlotillaException when the call failed
   */
  @Override
  public boolean hasNext() {
    if (next != null) {
      return true;
    }
    if (ended) {
      return false;
    }
    if (!requested) {
      requested = true;
      call.request(1);
    }
    Object signal = take();
    requested = false;
    if (signal instanceof StreamEvent event) {
      next = event;
      return true;
    }
    ended = true;
    if (signal instanceof FlotillaException failure) {
      throw failure;
    }
    return false;
  }

  /**
   * Returns the next event, waiting for it if necessary.
   *
   * @return the next event
   * @throws NoSuchElementException after the last event
   * @throws FlotillaException when the call failed
   */
  @Override
  public StreamEvent next() {
    if (!hasNext()) {
      throw new NoSuchElementException("the stream has ended");
    }
    StreamEvent event = next;
    next = null;
    return event;
  }

  /** Cancels the call if it is still running; iteration then ends. Idempotent. */
  @Override
  public void close() {
    call.cancel();
    // Wakes a reader blocked in hasNext(): a cancelled call signals nothing more.
    signals.add(END);
  }

  private Object take() {
    try {
      return signals.take();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      call.cancel();
      throw new UnexpectedStatusException(
          Status.Code.CANCELLED, "interrupted while waiting for tokens", requestId, e);
    }
  }
}
