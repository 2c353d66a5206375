package dev.flotilla.gateway.service;

import static dev.flotilla.gateway.service.PipelineHarness.ACME;
import static dev.flotilla.gateway.service.PipelineHarness.MODEL;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.flotilla.api.prefix.PrefixKeys;
import dev.flotilla.api.v1.ChatInput;
import dev.flotilla.api.v1.GenerateRequest;
import dev.flotilla.api.v1.GenerateResponse;
import dev.flotilla.api.v1.InferenceGrpc;
import dev.flotilla.api.v1.SamplingParams;
import dev.flotilla.gateway.TestLogs;
import dev.flotilla.gateway.route.WorkerView;
import io.grpc.Context;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.stub.MetadataUtils;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Prefix-aware routing through the gateway's gRPC service to two workers on loopback that record
 * and report the prefixes they were sent, as real workers do.
 */
class PrefixRoutingIT {
  private static final String SYSTEM =
      "{\"role\":\"system\",\"content\":\""
          + "You answer questions about ships. ".repeat(40)
          + "\"}";

  private PipelineHarness harness;
  private Server gateway;
  private ManagedChannel channel;
  private FakeWorker w1;
  private FakeWorker w2;

  @BeforeAll
  static void quiet() {
    TestLogs.quiet("dev.flotilla.gateway", "io.grpc");
  }

  @BeforeEach
  void start() throws Exception {
    harness = new PipelineHarness();
    gateway =
        Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create())
            .directExecutor()
            .addService(
                ServerInterceptors.intercept(
                    new InferenceGrpcService(harness.pipeline), new AuthorizationInterceptor()))
            .build()
            .start();
    channel =
        Grpc.newChannelBuilder(
                "127.0.0.1:" + gateway.getPort(), InsecureChannelCredentials.create())
            .build();
    w1 = harness.worker("w1");
    w2 = harness.worker("w2");
    w1.reportsPrefixes = true;
    w2.reportsPrefixes = true;
  }

  @AfterEach
  void stop() throws Exception {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    gateway.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    harness.close();
  }

  private InferenceGrpc.InferenceBlockingStub client() {
    Metadata md = new Metadata();
    md.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + ACME);
    return InferenceGrpc.newBlockingStub(channel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md))
        .withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  private static GenerateRequest chat(String turn) {
    return GenerateRequest.newBuilder()
        .setModel(MODEL)
        .setChat(
            ChatInput.newBuilder()
                .setMessagesJson(
                    "[" + SYSTEM + ",{\"role\":\"user\",\"content\":\"" + turn + "\"}]")
                .setAddGenerationPrompt(true))
        .setSampling(SamplingParams.newBuilder().setMaxTokens(3))
        .build();
  }

  private double routed(String match) {
    return harness.count("flotilla.gateway.routed.requests", "model", MODEL, "match", match);
  }

  /**
   * Reports arrive a second after the gateway sent anything: from then on the workers' reports
   * alone say what they hold. (The batch size changes so that the reports' arrival shows.)
   */
  private void onlyReportsCount() {
    harness.clockOffset.addAndGet(TimeUnit.SECONDS.toNanos(1));
    for (FakeWorker w : List.of(w1, w2)) {
      w.maxBatch = 9;
      w.publish();
    }
    await()
        .until(() -> harness.registry.views(MODEL).stream().allMatch(v -> v.maxBatchSize() == 9));
  }

  @Test
  void conversationsSharingASystemPromptGoToTheWorkerHoldingIt() {
    client().generate(chat("Which ship is fastest?")).forEachRemaining(r -> {});
    FakeWorker holder = w1.generated.isEmpty() ? w2 : w1;
    FakeWorker other = holder == w1 ? w2 : w1;
    assertThat(holder.generated).hasSize(1);
    // Everything but the prefix favours the other worker.
    other.freeKvBlocks = 1000;
    onlyReportsCount();

    // The worker computed its keys from the call it received; the gateway computes the next
    // request's from the call it will send. They meet only if both computations agree.
    long[] received = PrefixKeys.of(holder.generated.get(0)).keys();
    WorkerView view =
        harness.registry.views(MODEL).stream()
            .filter(v -> v.id().equals(holder.id))
            .findFirst()
            .orElseThrow();
    assertThat(view.prefixes().matched(received)).isEqualTo(received.length);

    for (int i = 0; i < 5; i++) {
      client().generate(chat("Question " + i + "?")).forEachRemaining(r -> {});
    }
    assertThat(holder.generated).hasSize(6);
    assertThat(other.generated).isEmpty();
    assertThat(routed("prefix")).isEqualTo(5);
    assertThat(routed("none")).isEqualTo(1);
  }

  @Test
  void whenTheHolderIsLoadedRequestsSpreadToTheOtherWorker() throws Exception {
    client().generate(chat("Which ship is fastest?")).forEachRemaining(r -> {});
    FakeWorker holder = w1.generated.isEmpty() ? w2 : w1;
    FakeWorker other = holder == w1 ? w2 : w1;
    onlyReportsCount();
    w1.stallAfterFirst = true;
    w2.stallAfterFirst = true;

    List<Context.CancellableContext> calls = new ArrayList<>();
    List<String> order = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      Context.CancellableContext ctx = Context.current().withCancellation();
      calls.add(ctx);
      String turn = "Question " + i + "?";
      int before = holder.generated.size();
      Iterator<GenerateResponse> it = ctx.call(() -> client().generate(chat(turn)));
      it.next(); // the first token: the request runs on its worker
      order.add(holder.generated.size() > before ? "holder" : "other");
    }
    // Bounded load (c = 1.25, two workers): the holder takes requests while it carries less than
    // ceil(1.25 * (load + 1) / 2), so the first two; the third goes to the other worker, which
    // then holds the system prompt too, and the rest spread by load.
    assertThat(order).startsWith("holder", "holder", "other");
    assertThat(holder.generated.size() - 1).isBetween(2, 4);
    assertThat(other.generated.size()).isBetween(2, 4);
    assertThat(routed("prefix")).isEqualTo(5);
    calls.forEach(c -> c.cancel(null));
    await().until(() -> harness.registry.views(MODEL).stream().allMatch(v -> v.inFlight() == 0));
  }
}
