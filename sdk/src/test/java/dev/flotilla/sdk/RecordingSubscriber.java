package dev.flotilla.sdk;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/** A subscriber that records what it receives and lets the test drive demand. */
final class RecordingSubscriber implements Flow.Subscriber<StreamEvent> {
  private final long initialDemand;
  private final List<StreamEvent> items = new CopyOnWriteArrayList<>();
  private final CountDownLatch terminated = new CountDownLatch(1);
  private volatile Flow.Subscription subscription;
  private volatile Throwable error;
  private volatile boolean completed;

  /** Runs on every item, after it was recorded. */
  volatile Consumer<Flow.Subscription> onItem = subscription -> {};

  RecordingSubscriber(long initialDemand) {
    this.initialDemand = initialDemand;
  }

  @Override
  public void onSubscribe(Flow.Subscription subscription) {
    this.subscription = subscription;
    if (initialDemand > 0) {
      subscription.request(initialDemand);
    }
  }

  @Override
  public void onNext(StreamEvent item) {
    items.add(item);
    onItem.accept(subscription);
  }

  @Override
  public void onError(Throwable throwable) {
    error = throwable;
    terminated.countDown();
  }

  @Override
  public void onComplete() {
    completed = true;
    terminated.countDown();
  }

  Flow.Subscription subscription() {
    return subscription;
  }

  List<StreamEvent> items() {
    return items;
  }

  boolean completed() {
    return completed;
  }

  Throwable error() {
    return error;
  }

  boolean terminated() {
    return terminated.getCount() == 0;
  }

  /** Waits for onError or onComplete; returns the error, or null after onComplete. */
  Throwable awaitTermination() throws InterruptedException {
    if (!terminated.await(10, TimeUnit.SECONDS)) {
      throw new AssertionError("the publisher neither completed nor failed within 10 s");
    }
    return error;
  }
}
