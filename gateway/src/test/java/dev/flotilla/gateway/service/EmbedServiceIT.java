package dev.flotilla.gateway.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.rpc.BadRequest;
import dev.flotilla.api.v1.EmbedInput;
import dev.flotilla.api.v1.EmbedRequest;
import dev.flotilla.api.v1.EmbedResponse;
import dev.flotilla.api.v1.InferenceGrpc;
import dev.flotilla.api.v1.TokenIds;
import dev.flotilla.gateway.TestLogs;
import dev.flotilla.gateway.usage.UsageEvent;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.MetadataUtils;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Embed through the gateway's Inference service over real gRPC on loopback, with fake workers that
 * are real gRPC servers: the same authentication, authorization, tenant limits, adapter routing and
 * usage events as generation.
 */
class EmbedServiceIT {
  private static final String MODEL = PipelineHarness.MODEL;

  private PipelineHarness harness;
  private List<UsageEvent> usage;
  private Server gateway;
  private ManagedChannel channel;

  @BeforeAll
  static void quiet() {
    TestLogs.quiet("dev.flotilla.gateway", "io.grpc");
  }

  @BeforeEach
  void start() throws Exception {
    harness = new PipelineHarness();
    usage = harness.usage;
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
  }

  @AfterEach
  void stop() throws Exception {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    gateway.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    harness.close();
  }

  private InferenceGrpc.InferenceBlockingStub client(String key) {
    Metadata md = new Metadata();
    if (key != null) {
      md.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + key);
    }
    return InferenceGrpc.newBlockingStub(channel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md))
        .withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  private static EmbedRequest request(String adapter, EmbedInput... inputs) {
    return EmbedRequest.newBuilder()
        .setModel(MODEL)
        .setAdapter(adapter)
        .addAllInputs(List.of(inputs))
        .build();
  }

  private static EmbedInput text(String text) {
    return EmbedInput.newBuilder().setText(text).build();
  }

  private static EmbedInput ids(int... ids) {
    TokenIds.Builder t = TokenIds.newBuilder();
    for (int id : ids) {
      t.addIds(id);
    }
    return EmbedInput.newBuilder().setTokenIds(t).build();
  }

  @Test
  void embedsEveryInputInOrderAndBillsItsPromptTokensOnce() throws Exception {
    FakeWorker w = harness.worker("w1");
    EmbedResponse r = client(PipelineHarness.ACME).embed(request("", text("hello"), ids(1, 2, 3)));
    assertThat(r.getEmbeddingsList())
        .containsExactly(FakeWorker.embedding(0), FakeWorker.embedding(1));
    assertThat(r.getUsage().getPromptTokens()).isEqualTo(8);
    assertThat(r.getUsage().getCompletionTokens()).isZero();
    assertThat(r.getUsage().getTotalTokens()).isEqualTo(8);
    assertThat(r.getRequestId()).isNotEmpty();
    assertThat(w.embedded).hasSize(1);
    assertThat(w.embedded.get(0).getTenant()).isEqualTo("acme");
    assertThat(w.embedded.get(0).getPriority()).isEqualTo(1);
    assertThat(w.embedded.get(0).getInputsList()).containsExactly(text("hello"), ids(1, 2, 3));
    await().until(() -> usage.size() == 1);
    UsageEvent e = usage.get(0);
    assertThat(e.requestId()).isEqualTo(r.getRequestId());
    assertThat(e.tenant()).isEqualTo("acme");
    assertThat(e.model()).isEqualTo(MODEL);
    assertThat(e.status()).isEqualTo("OK");
    assertThat(e.promptTokens()).isEqualTo(8);
    assertThat(e.completionTokens()).isZero();
  }

  @Test
  void anAdapterGoesToTheWorkerThatHoldsItOrIsLoadedFirst() throws Exception {
    FakeWorker w1 = harness.worker("w1");
    FakeWorker w2 = harness.worker("w2");
    w2.resident.add("sql");
    w2.publish();
    await()
        .atMost(Duration.ofSeconds(5))
        .until(
            () ->
                harness.registry.views(MODEL).stream()
                    .anyMatch(v -> v.id().equals("w2") && v.residentAdapters().contains("sql")));
    for (int i = 0; i < 3; i++) {
      client(PipelineHarness.ACME).embed(request("sql", text("q" + i)));
    }
    assertThat(w2.embedded).hasSize(3).allMatch(r -> r.getAdapter().equals("sql"));
    assertThat(w1.embedded).isEmpty();

    client(PipelineHarness.ACME).embed(request("acme-support", text("x")));
    List<FakeWorker> loaded =
        List.of(w1, w2).stream()
            .filter(w -> w.loads.stream().anyMatch(l -> l.getName().equals("acme-support")))
            .toList();
    assertThat(loaded).hasSize(1);
    assertThat(loaded.get(0).embedded).anyMatch(r -> r.getAdapter().equals("acme-support"));
    await().until(() -> usage.size() == 4);
    assertThat(usage.get(3).adapter()).isEqualTo("acme-support");
  }

  @Test
  void refusalsNameTheFieldAndAreBilledAsGenerationsAre() throws Exception {
    FakeWorker w = harness.worker("w1");
    assertThatThrownBy(() -> client(null).embed(request("", text("a"))))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED));
    assertThatThrownBy(() -> client(PipelineHarness.ACME).embed(request("")))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class, e -> assertThat(field(e)).isEqualTo("input"));
    assertThatThrownBy(() -> client(PipelineHarness.ACME).embed(request("", text(""))))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class, e -> assertThat(field(e)).isEqualTo("input"));
    assertThatThrownBy(() -> client(PipelineHarness.ACME).embed(request("globex-legal", text("a"))))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
    // The worker refuses a length it does not produce; the refusal is not retried elsewhere.
    assertThatThrownBy(
            () ->
                client(PipelineHarness.ACME)
                    .embed(request("", text("a")).toBuilder().setDimensions(64).build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
              assertThat(field(e)).isEqualTo("dimensions");
            });
    assertThat(w.embedded).hasSize(1);
    assertThat(
            client(PipelineHarness.ACME)
                .embed(
                    request("", text("a")).toBuilder()
                        .setDimensions(FakeWorker.EMBED_DIMENSIONS)
                        .build())
                .getEmbeddings(0)
                .getValuesCount())
        .isEqualTo(FakeWorker.EMBED_DIMENSIONS);
    await().until(() -> usage.size() == 5);
    assertThat(usage)
        .extracting(UsageEvent::status)
        .containsExactly(
            "INVALID_ARGUMENT", "INVALID_ARGUMENT", "NOT_FOUND", "INVALID_ARGUMENT", "OK");
  }

  @Test
  void tenantLimitsApply() throws Exception {
    harness.worker("w1");
    client(PipelineHarness.GLOBEX).embed(request("", text("a")));
    assertThatThrownBy(() -> client(PipelineHarness.GLOBEX).embed(request("", text("b"))))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED));
  }

  private static String field(StatusRuntimeException e) {
    for (com.google.protobuf.Any a : StatusProto.fromThrowable(e).getDetailsList()) {
      if (a.is(BadRequest.class)) {
        try {
          return a.unpack(BadRequest.class).getFieldViolations(0).getField();
        } catch (com.google.protobuf.InvalidProtocolBufferException x) {
          throw new AssertionError(x);
        }
      }
    }
    throw new AssertionError("no BadRequest in " + e);
  }
}
