package dev.flotilla.sdk;

import java.util.Objects;
import java.util.concurrent.Flow;
import java.util.function.Function;

/**
 * A cold {@link Flow.Publisher} of a streamed generation: every subscriber starts its own call.
 * Subscriber demand is passed to gRPC flow control, and cancelling the subscription cancels the
 * call.
 */
final class GeneratePublisher implements Flow.Publisher<StreamEvent> {
  private final Function<GenerateCall.Listener, GenerateCall> newCall;

  GeneratePublisher(Function<GenerateCall.Listener, GenerateCall> newCall) {
    this.newCall = newCall;
  }

  @Override
  public void subscribe(Flow.Subscriber<? super StreamEvent> subscriber) {
    Objects.requireNonNull(subscriber, "subscriber");
    CallSubscription subscription = new CallSubscription(subscriber);
    subscription.call = newCall.apply(subscription);
    subscriber.onSubscribe(subscription);
    subscription.call.start();
  }

  /** Bridges one subscriber to one {@link GenerateCall}. */
  private static final class CallSubscription implements Flow.Subscription, GenerateCall.Listener {
    private final Flow.Subscriber<? super StreamEvent> subscriber;
    private GenerateCall call;

    CallSubscription(Flow.Subscriber<? super StreamEvent> subscriber) {
      this.subscriber = subscriber;
    }

    @Override
    public void request(long n) {
      if (n <= 0) {
        // Reactive Streams rule 3.9: a non-positive request is answered with onError.
        call.cancel();
        subscriber.onError(new IllegalArgumentException("request(n) needs n > 0, was " + n));
        return;
      }
      call.request(n);
    }

    @Override
    public void cancel() {
      call.cancel();
    }

    @Override
    public void onEvent(StreamEvent event) {
      subscriber.onNext(event);
    }

    @Override
    public void onError(FlotillaException failure) {
      subscriber.onError(failure);
    }

    @Override
    public void onComplete() {
      subscriber.onComplete();
    }
  }
}
