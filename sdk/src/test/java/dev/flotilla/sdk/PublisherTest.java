package dev.flotilla.sdk;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The Flow.Publisher against a server that writes everything at once: only gRPC flow control, fed
 * by the subscriber's demand, decides what reaches the subscriber. Client and server run on direct
 * executors, so once a request(n) returns, all it allowed has been delivered.
 */
class PublisherTest {
  private final CompletionRequest request =
      CompletionRequest.builder().model("m").prompt("p").build();

  @Test
  void deliversExactlyAsManyItemsAsRequested() throws InterruptedException {
    try (TestGateway gateway = TestGateway.inProcessDirect();
        FlotillaClient client = gateway.client()) {
      CountDownLatch serverWroteAll = new CountDownLatch(1);
      gateway.service.onGenerate =
          (r, responses, attempt) -> {
            responses.onNext(Replies.tokens("a"));
            responses.onNext(Replies.tokens("b"));
            responses.onNext(Replies.finalMessage(r.getRequestId()));
            responses.onCompleted();
            serverWroteAll.countDown();
          };
      RecordingSubscriber subscriber = new RecordingSubscriber(0);

      client.generatePublisher(request).subscribe(subscriber);
      assertThat(serverWroteAll.await(10, TimeUnit.SECONDS)).isTrue();
      assertThat(subscriber.items()).isEmpty();

      subscriber.subscription().request(1);
      assertThat(subscriber.items())
          .containsExactly(new StreamEvent.Tokens("a", List.of(), List.of()));
      assertThat(subscriber.terminated()).isFalse();

      subscriber.subscription().request(1);
      assertThat(subscriber.items()).hasSize(2);
      assertThat(subscriber.terminated()).isFalse();

      subscriber.subscription().request(5);
      assertThat(subscriber.items()).hasSize(3).last().isInstanceOf(StreamEvent.Finished.class);
      assertThat(subscriber.completed()).isTrue();
    }
  }

  @Test
  void cancellingTheSubscriptionCancelsTheServerStream() throws InterruptedException {
    try (TestGateway gateway = TestGateway.inProcess();
        FlotillaClient client = gateway.client()) {
      // One token, then the server keeps the stream open as if generating slowly.
      gateway.service.onGenerate =
          (r, responses, attempt) -> responses.onNext(Replies.tokens("first"));
      RecordingSubscriber subscriber = new RecordingSubscriber(Long.MAX_VALUE);
      CountDownLatch firstItem = new CountDownLatch(1);
      subscriber.onItem =
          subscription -> {
            subscription.cancel();
            firstItem.countDown();
          };

      client.generatePublisher(request).subscribe(subscriber);

      assertThat(firstItem.await(10, TimeUnit.SECONDS)).isTrue();
      assertThat(gateway.service.generateCancelled.await(10, TimeUnit.SECONDS)).isTrue();
      assertThat(subscriber.items()).hasSize(1);
      // Rule 1.8: after cancel the subscriber hears nothing more, not even the CANCELLED status.
      assertThat(subscriber.terminated()).isFalse();
    }
  }

  @Test
  void nonPositiveRequestIsAnErrorAndCancelsTheCall() throws InterruptedException {
    try (TestGateway gateway = TestGateway.inProcess();
        FlotillaClient client = gateway.client()) {
      CountDownLatch serverHasCall = new CountDownLatch(1);
      gateway.service.onGenerate = (r, responses, attempt) -> serverHasCall.countDown();
      RecordingSubscriber subscriber = new RecordingSubscriber(0);

      client.generatePublisher(request).subscribe(subscriber);
      assertThat(serverHasCall.await(10, TimeUnit.SECONDS)).isTrue();
      subscriber.subscription().request(0);

      assertThat(subscriber.awaitTermination()).isInstanceOf(IllegalArgumentException.class);
      assertThat(gateway.service.generateCancelled.await(10, TimeUnit.SECONDS)).isTrue();
    }
  }

  @Test
  void everySubscriptionIsItsOwnCall() throws InterruptedException {
    try (TestGateway gateway = TestGateway.inProcessDirect();
        FlotillaClient client = gateway.client()) {
      gateway.service.onGenerate =
          (r, responses, attempt) -> {
            responses.onNext(Replies.tokens("call " + attempt));
            responses.onCompleted();
          };
      var publisher = client.generatePublisher(request);
      RecordingSubscriber first = new RecordingSubscriber(Long.MAX_VALUE);
      RecordingSubscriber second = new RecordingSubscriber(Long.MAX_VALUE);

      publisher.subscribe(first);
      publisher.subscribe(second);

      assertThat(first.awaitTermination()).isNull();
      assertThat(second.awaitTermination()).isNull();
      assertThat(first.items())
          .containsExactly(new StreamEvent.Tokens("call 1", List.of(), List.of()));
      assertThat(second.items())
          .containsExactly(new StreamEvent.Tokens("call 2", List.of(), List.of()));
    }
  }
}
