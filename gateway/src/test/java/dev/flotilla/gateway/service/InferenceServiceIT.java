package dev.flotilla.gateway.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.rpc.BadRequest;
import com.google.rpc.ResourceInfo;
import com.google.rpc.RetryInfo;
import dev.flotilla.api.v1.ChatInput;
import dev.flotilla.api.v1.CompleteResponse;
import dev.flotilla.api.v1.Final;
import dev.flotilla.api.v1.FinishReason;
import dev.flotilla.api.v1.GenerateRequest;
import dev.flotilla.api.v1.GenerateResponse;
import dev.flotilla.api.v1.HeldProgress;
import dev.flotilla.api.v1.InferenceGrpc;
import dev.flotilla.api.v1.ListModelsRequest;
import dev.flotilla.api.v1.ListModelsResponse;
import dev.flotilla.api.v1.ResponseFormat;
import dev.flotilla.api.v1.SamplingParams;
import dev.flotilla.api.v1.TokenChunk;
import dev.flotilla.api.v1.TokenIds;
import dev.flotilla.api.v1.ToolCall;
import dev.flotilla.api.v1.ToolCallDelta;
import dev.flotilla.api.v1.ToolChoice;
import dev.flotilla.gateway.TestLogs;
import dev.flotilla.gateway.route.WorkerRegistry;
import dev.flotilla.gateway.schedule.Schedulers;
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
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The Inference service over real gRPC on loopback, with fake workers that are real gRPC servers
 * too: every pipeline step's failure mode and status, retries, holding, metering.
 */
class InferenceServiceIT {
  private static final String MODEL = PipelineHarness.MODEL;
  private static final String ACME = PipelineHarness.ACME;
  private static final String GLOBEX = PipelineHarness.GLOBEX;

  private PipelineHarness harness;
  private AtomicLong clockOffset;
  private List<UsageEvent> usage;
  private List<String> notified;
  private List<FakeWorker> workers;
  private WorkerRegistry registry;
  private Schedulers schedulers;
  private Server gateway;
  private ManagedChannel channel;

  @BeforeAll
  static void quiet() {
    TestLogs.quiet("dev.flotilla.gateway", "io.grpc");
  }

  @BeforeEach
  void start() throws Exception {
    harness = new PipelineHarness();
    clockOffset = harness.clockOffset;
    usage = harness.usage;
    notified = harness.notified;
    workers = harness.workers;
    registry = harness.registry;
    schedulers = harness.schedulers;
    // Calls on the transport thread, as the Quarkus gateway runs its non-blocking service.
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

  private FakeWorker worker(String id) throws Exception {
    return harness.worker(id);
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

  private static GenerateRequest request(String adapter, int maxTokens) {
    return GenerateRequest.newBuilder()
        .setModel(MODEL)
        .setAdapter(adapter)
        .setPrompt("hello")
        .setSampling(SamplingParams.newBuilder().setMaxTokens(maxTokens))
        .build();
  }

  private static List<GenerateResponse> drain(Iterator<GenerateResponse> it) {
    List<GenerateResponse> out = new ArrayList<>();
    it.forEachRemaining(out::add);
    return out;
  }

  private static Status.Code code(Runnable r) {
    try {
      r.run();
      return Status.Code.OK;
    } catch (StatusRuntimeException e) {
      return e.getStatus().getCode();
    }
  }

  private static <T extends com.google.protobuf.Message> T detail(
      StatusRuntimeException e, Class<T> type) throws Exception {
    for (com.google.protobuf.Any a : StatusProto.fromThrowable(e).getDetailsList()) {
      if (a.is(type)) {
        return a.unpack(type);
      }
    }
    throw new AssertionError("no " + type.getSimpleName() + " in " + e);
  }

  @Test
  void streamsTokensThenFinalAndBillsWhatTheClientReceived() throws Exception {
    worker("w1").tokens = 5;
    List<GenerateResponse> out = drain(client(ACME).generate(request("", 10)));
    assertThat(out).hasSize(6);
    assertThat(out.subList(0, 5)).allMatch(GenerateResponse::hasTokens);
    GenerateResponse last = out.get(5);
    assertThat(last.getFinal().getUsage().getCompletionTokens()).isEqualTo(5);
    assertThat(last.getFinal().getUsage().getPromptTokens()).isEqualTo(7);
    assertThat(last.getFinal().getRequestId()).isNotEmpty();
    await().until(() -> usage.size() == 1);
    UsageEvent e = usage.get(0);
    assertThat(e.requestId()).isEqualTo(last.getFinal().getRequestId());
    assertThat(e.tenant()).isEqualTo("acme");
    assertThat(e.model()).isEqualTo(MODEL);
    assertThat(e.status()).isEqualTo("OK");
    assertThat(e.completionTokens()).isEqualTo(5);
    assertThat(e.promptTokens()).isEqualTo(7);
    assertThat(e.gateway()).isEqualTo("gw-test");
    // The worker got the gateway's default max_tokens when the client gave none.
    drain(client(ACME).generate(request("", 0)));
    assertThat(workers.get(0).generated.get(1).getSampling().getMaxTokens()).isEqualTo(16);
    assertThat(workers.get(0).generated.get(1).getTenant()).isEqualTo("acme");
  }

  @Test
  void textFlushedAfterTheLastTokenIsStreamedButNotCountedAsAToken() throws Exception {
    worker("w1").tokens = 3;
    workers.get(0).trailingText = "\u00e9";
    List<GenerateResponse> out = drain(client(ACME).generate(request("", 10)));
    assertThat(out).hasSize(5);
    assertThat(out.get(3).getTokens().getText()).isEqualTo("\u00e9");
    assertThat(out.stream().mapToInt(r -> r.getTokens().getTokenIdsCount()).sum()).isEqualTo(3);
    assertThat(out.get(4).getFinal().getUsage().getCompletionTokens()).isEqualTo(3);
    await().until(() -> usage.size() == 1);
    assertThat(usage.get(0).completionTokens()).isEqualTo(3);
  }

  @Test
  void samplingFieldsReachTheWorkerAndTopLogprobsComeBackPerToken() throws Exception {
    FakeWorker w = worker("w1");
    w.tokens = 2;
    SamplingParams sampling =
        request("", 4).getSampling().toBuilder()
            .setPresencePenalty(0.5f)
            .setFrequencyPenalty(-0.5f)
            .setRepetitionPenalty(1.1f)
            .putLogitBias(7, -100f)
            .setMinTokens(1)
            .addStopTokenIds(42)
            .setSeed(9)
            .setTopLogprobs(3)
            .build();
    GenerateRequest req =
        request("", 4).toBuilder().setLogprobs(true).setSampling(sampling).build();
    List<GenerateResponse> out = drain(client(ACME).generate(req));
    TokenChunk first = out.get(0).getTokens();
    assertThat(first.getTokensList()).containsExactly("t0 ");
    assertThat(first.getTopLogprobs(0).getTokensList()).containsExactly("t0 ", "alt1", "alt2");
    assertThat(first.getTopLogprobs(0).getLogprobsList()).containsExactly(-0.25f, -1f, -2f);
    assertThat(w.generated.get(0).getSampling())
        .isEqualTo(sampling.toBuilder().setMaxTokens(4).build());

    CompleteResponse whole = client(ACME).complete(req);
    assertThat(whole.getTopLogprobsCount()).isEqualTo(2);
    assertThat(whole.getTokensList()).containsExactly("t0 ", "t1 ");
    assertThat(whole.getTopLogprobs(1).getTokenIdsList()).containsExactly(101, 1, 2);
  }

  @Test
  void completeReturnsTheWholeTextInOneMessage() throws Exception {
    worker("w1").tokens = 3;
    CompleteResponse r =
        client(ACME)
            .complete(
                GenerateRequest.newBuilder()
                    .setModel(MODEL)
                    .setPromptTokenIds(TokenIds.newBuilder().addIds(1).addIds(2))
                    .setSampling(SamplingParams.newBuilder().setMaxTokens(8))
                    .build());
    assertThat(r.getText()).isEqualTo("t0 t1 t2 ");
    assertThat(r.getTokenIdsList()).containsExactly(100, 101, 102);
    assertThat(r.getFinal().getUsage().getPromptTokens()).isEqualTo(2);
  }

  @Test
  void toolCallsComeOutOfTheTextOntoTheFinalMessage() throws Exception {
    worker("w1").tokens = 2;
    workers.get(0).trailingText =
        "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": 1}}\n</tool_call>";
    GenerateRequest chat =
        GenerateRequest.newBuilder()
            .setModel(MODEL)
            .setChat(
                ChatInput.newBuilder()
                    .setMessagesJson("[{\"role\":\"user\",\"content\":\"hi\"}]")
                    .setToolsJson("[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]"))
            .setToolChoice(ToolChoice.newBuilder().setMode(ToolChoice.Mode.REQUIRED))
            .setSampling(SamplingParams.newBuilder().setMaxTokens(8))
            .build();
    CompleteResponse r = client(ACME).complete(chat);
    assertThat(r.getText()).isEqualTo("t0 t1 ");
    assertThat(r.getFinal().getFinishReason()).isEqualTo(FinishReason.TOOL_CALLS);
    assertThat(r.getFinal().getToolCallsList()).hasSize(1);
    assertThat(r.getFinal().getToolCalls(0).getName()).isEqualTo("f");
    assertThat(r.getFinal().getToolCalls(0).getArgumentsJson()).isEqualTo("{\"x\":1}");
    assertThat(workers.get(0).generated.get(0).getToolChoice().getMode())
        .isEqualTo(ToolChoice.Mode.REQUIRED);

    List<GenerateResponse> streamed = drain(client(ACME).generate(chat));
    String text = streamed.stream().map(m -> m.getTokens().getText()).reduce("", String::concat);
    assertThat(text).isEqualTo("t0 t1 ");
    Final fin = streamed.get(streamed.size() - 1).getFinal();
    assertThat(fin.getFinishReason()).isEqualTo(FinishReason.TOOL_CALLS);
    assertThat(fin.getToolCalls(0).getId()).startsWith("call_");

    // without the choice's tools, or with none, the text stays as written
    CompleteResponse none =
        client(ACME)
            .complete(
                chat.toBuilder()
                    .setToolChoice(ToolChoice.newBuilder().setMode(ToolChoice.Mode.NONE))
                    .build());
    assertThat(none.getText()).startsWith("t0 t1 <tool_call>");
    assertThat(none.getFinal().getToolCallsList()).isEmpty();
  }

  @Test
  void severalToolCallsStreamAsDeltasThatAddUpToTheFinalCalls() throws Exception {
    worker("w1").tokens = 1;
    workers.get(0).trailingText =
        "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": [1, 2]}}\n</tool_call>\n"
            + "<tool_call>\n{\"name\": \"g\", \"arguments\": {\"s\": \"a } b\"}}\n</tool_call>";
    workers.get(0).trailingPieceLength = 4;
    GenerateRequest chat =
        GenerateRequest.newBuilder()
            .setModel(MODEL)
            .setChat(
                ChatInput.newBuilder()
                    .setMessagesJson("[{\"role\":\"user\",\"content\":\"hi\"}]")
                    .setToolsJson(
                        "[{\"type\":\"function\",\"function\":{\"name\":\"f\"}},"
                            + "{\"type\":\"function\",\"function\":{\"name\":\"g\"}}]"))
            .setSampling(SamplingParams.newBuilder().setMaxTokens(8))
            .build();

    List<GenerateResponse> streamed = drain(client(ACME).generate(chat));
    Final fin = streamed.get(streamed.size() - 1).getFinal();
    assertThat(fin.getFinishReason()).isEqualTo(FinishReason.TOOL_CALLS);
    assertThat(fin.getToolCallsList())
        .extracting(ToolCall::getName, ToolCall::getArgumentsJson)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("f", "{\"x\":[1,2]}"),
            org.assertj.core.groups.Tuple.tuple("g", "{\"s\":\"a } b\"}"));
    List<ToolCallDelta> deltas =
        streamed.stream()
            .filter(GenerateResponse::hasTokens)
            .flatMap(m -> m.getTokens().getToolCallsList().stream())
            .toList();
    // each call opens with its id and name, then its arguments come in pieces
    assertThat(deltas.stream().filter(d -> !d.getId().isEmpty()))
        .extracting(ToolCallDelta::getIndex, ToolCallDelta::getId, ToolCallDelta::getName)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(0, fin.getToolCalls(0).getId(), "f"),
            org.assertj.core.groups.Tuple.tuple(1, fin.getToolCalls(1).getId(), "g"));
    for (int i = 0; i < 2; i++) {
      int index = i;
      List<String> pieces =
          deltas.stream()
              .filter(d -> d.getIndex() == index && !d.getArgumentsJson().isEmpty())
              .map(ToolCallDelta::getArgumentsJson)
              .toList();
      assertThat(pieces).as("pieces of call %d", i).hasSizeGreaterThan(1);
      assertThat(String.join("", pieces)).isEqualTo(fin.getToolCalls(i).getArgumentsJson());
    }
    String text = streamed.stream().map(m -> m.getTokens().getText()).reduce("", String::concat);
    assertThat(text).isEqualTo("t0 ");

    // parallel_tool_calls false in auto mode: the worker stops at the first call's end
    CompleteResponse one =
        client(ACME)
            .complete(
                chat.toBuilder()
                    .setToolChoice(ToolChoice.newBuilder().setParallelToolCalls(false))
                    .build());
    assertThat(one.getFinal().getFinishReason()).isEqualTo(FinishReason.TOOL_CALLS);
    assertThat(one.getFinal().getToolCallsList())
        .extracting(ToolCall::getName, ToolCall::getArgumentsJson)
        .containsExactly(org.assertj.core.groups.Tuple.tuple("f", "{\"x\":[1,2]}"));
    assertThat(workers.get(0).generated.get(1).getSampling().getStopList())
        .containsExactly("</tool_call>");
  }

  @Test
  void missingOrWrongKeysAreUnauthenticatedAndNotBilled() throws Exception {
    worker("w1");
    assertThat(code(() -> drain(client(null).generate(request("", 4)))))
        .isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(code(() -> drain(client("flk_nope").generate(request("", 4)))))
        .isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(code(() -> client("flk_nope").listModels(ListModelsRequest.getDefaultInstance())))
        .isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(usage).isEmpty();
    assertThat(harness.count("flotilla.gateway.rejections", "reason", "unauthenticated"))
        .isEqualTo(2);
  }

  @Test
  void anotherTenantsPrivateAdapterIsNotFoundAndNeverListed() throws Exception {
    worker("w1");
    assertThat(code(() -> drain(client(ACME).generate(request("globex-legal", 4)))))
        .isEqualTo(Status.Code.NOT_FOUND);
    ListModelsResponse models = client(ACME).listModels(ListModelsRequest.getDefaultInstance());
    assertThat(models.getModelsList()).hasSize(1);
    assertThat(models.getModels(0).getName()).isEqualTo(MODEL);
    assertThat(models.getModels(0).getReadyReplicas()).isEqualTo(1);
    assertThat(models.getModels(0).getAdaptersList())
        .extracting(a -> a.getName())
        .containsExactly("acme-support", "sql");
    await().until(() -> usage.size() == 1);
    assertThat(usage.get(0).status()).isEqualTo("NOT_FOUND");
  }

  @Test
  void whatTheTenantMayNotUseAnswersByteForByteAsWhatDoesNotExist() throws Exception {
    worker("w1");
    harness.catalog.onModel(dev.flotilla.gateway.Fixtures.model("default", "big-llama", "30s"));
    // Names of one length, so the bytes compare once the name asked for is blanked out.
    assertThat(wireRefusal(request("", 4).toBuilder().setModel("default/big-llama").build()))
        .as("a model acme may not use")
        .isEqualTo(wireRefusal(request("", 4).toBuilder().setModel("default/gib-llama").build()));
    assertThat(wireRefusal(request("globex-legal", 4)))
        .as("globex's private adapter")
        .isEqualTo(wireRefusal(request("globex-lagel", 4)));
  }

  /**
   * Code, message and status details (as the trailer carries them) of a refused request, with the
   * name it asked for blanked out.
   */
  private String wireRefusal(GenerateRequest r) {
    String asked = r.getAdapter().isEmpty() ? r.getModel() : r.getAdapter();
    StatusRuntimeException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            StatusRuntimeException.class, () -> drain(client(ACME).generate(r)));
    byte[] details =
        e.getTrailers()
            .get(Metadata.Key.of("grpc-status-details-bin", Metadata.BINARY_BYTE_MARSHALLER));
    String blank = "*".repeat(asked.length());
    return (e.getStatus().getCode()
            + "\n"
            + e.getStatus().getDescription()
            + "\n"
            + new String(details, java.nio.charset.StandardCharsets.ISO_8859_1))
        .replace(asked, blank);
  }

  @Test
  void unknownAdapterIsNotFoundWithResourceInfo() throws Exception {
    worker("w1");
    assertThatThrownBy(() -> drain(client(ACME).generate(request("ghost", 4))))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
              try {
                assertThat(detail(e, ResourceInfo.class).getResourceName())
                    .isEqualTo("default/ghost");
              } catch (Exception x) {
                throw new AssertionError(x);
              }
            });
  }

  @Test
  void nChoicesStreamWithTheirIndexAndBillThePromptOnceAndEveryChoicesTokens() throws Exception {
    worker("w1").tokens = 4;
    GenerateRequest three =
        request("", 4).toBuilder()
            .setSampling(SamplingParams.newBuilder().setMaxTokens(4).setN(3))
            .build();
    List<GenerateResponse> out = drain(client(ACME).generate(three));
    assertThat(out).hasSize(13);
    assertThat(out.subList(0, 12))
        .extracting(r -> r.getTokens().getIndex())
        .containsExactly(0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2);
    Final fin = out.get(12).getFinal();
    assertThat(fin.getUsage().getPromptTokens()).isEqualTo(7);
    assertThat(fin.getUsage().getCompletionTokens()).isEqualTo(12);
    assertThat(fin.getChoicesList())
        .extracting(c -> c.getIndex(), c -> c.getFinishReason())
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(0, FinishReason.LENGTH),
            org.assertj.core.groups.Tuple.tuple(1, FinishReason.LENGTH),
            org.assertj.core.groups.Tuple.tuple(2, FinishReason.LENGTH));
    assertThat(workers.get(0).generated.get(0).getSampling().getN()).isEqualTo(3);
    await().until(() -> usage.size() == 1);
    assertThat(usage.get(0).promptTokens()).isEqualTo(7);
    assertThat(usage.get(0).completionTokens()).isEqualTo(12);

    CompleteResponse whole = client(ACME).complete(three);
    assertThat(whole.getText()).isEqualTo("c0t0 c0t1 c0t2 c0t3 ");
    assertThat(whole.getChoicesList()).hasSize(3);
    assertThat(whole.getChoices(2).getText()).isEqualTo("c2t0 c2t1 c2t2 c2t3 ");
    assertThat(whole.getChoices(2).getTokenIdsList()).containsExactly(120, 121, 122, 123);
    assertThat(whole.getChoices(1).getFinishReason()).isEqualTo(FinishReason.LENGTH);
    assertThat(whole.getFinal().getUsage().getCompletionTokens()).isEqualTo(12);

    for (int n : new int[] {17, -1}) {
      GenerateRequest bad =
          three.toBuilder().setSampling(three.getSampling().toBuilder().setN(n)).build();
      StatusRuntimeException e =
          org.junit.jupiter.api.Assertions.assertThrows(
              StatusRuntimeException.class, () -> drain(client(ACME).generate(bad)));
      assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
      assertThat(detail(e, BadRequest.class).getFieldViolations(0).getField())
          .isEqualTo("sampling.n");
    }
    // A grammar, and the tool calls parsed from the text, follow one choice.
    GenerateRequest json =
        three.toBuilder()
            .setResponseFormat(ResponseFormat.newBuilder().setType(ResponseFormat.Type.JSON_OBJECT))
            .build();
    GenerateRequest tools =
        three.toBuilder()
            .setChat(
                ChatInput.newBuilder()
                    .setMessagesJson("[{\"role\": \"user\", \"content\": \"hi\"}]")
                    .setToolsJson("[{\"type\": \"function\", \"function\": {\"name\": \"f\"}}]"))
            .build();
    for (GenerateRequest bad : List.of(json, tools)) {
      StatusRuntimeException e =
          org.junit.jupiter.api.Assertions.assertThrows(
              StatusRuntimeException.class, () -> drain(client(ACME).generate(bad)));
      assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
      assertThat(detail(e, BadRequest.class).getFieldViolations(0).getField())
          .isEqualTo("sampling.n");
    }
    assertThat(workers.get(0).generated).hasSize(2);
  }

  @Test
  void badFieldsAreInvalidArgumentWithBadRequest() throws Exception {
    worker("w1");
    GenerateRequest bad =
        request("", 4).toBuilder().setSampling(SamplingParams.newBuilder().setTopP(1.5f)).build();
    StatusRuntimeException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            StatusRuntimeException.class, () -> drain(client(ACME).generate(bad)));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(detail(e, BadRequest.class).getFieldViolations(0).getField())
        .isEqualTo("sampling.top_p");
  }

  @Test
  void nonFiniteOrOutOfRangeFieldsAreInvalidArgumentNamingTheFieldAndNeverReachAWorker()
      throws Exception {
    FakeWorker w = worker("w1");
    SamplingParams base = request("", 4).getSampling();
    java.util.Map<String, GenerateRequest> bad = new java.util.LinkedHashMap<>();
    for (float t : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
      bad.put(
          "sampling.temperature " + t,
          request("", 4).toBuilder().setSampling(base.toBuilder().setTemperature(t)).build());
    }
    for (float p : new float[] {Float.NaN, Float.POSITIVE_INFINITY}) {
      bad.put(
          "sampling.top_p " + p,
          request("", 4).toBuilder().setSampling(base.toBuilder().setTopP(p)).build());
    }
    bad.put(
        "sampling.top_k",
        request("", 4).toBuilder().setSampling(base.toBuilder().setTopK(-1)).build());
    bad.put(
        "sampling.max_tokens",
        request("", 4).toBuilder().setSampling(base.toBuilder().setMaxTokens(-1)).build());
    bad.put(
        "sampling.stop",
        request("", 4).toBuilder().setSampling(base.toBuilder().addStop("x".repeat(257))).build());
    bad.put(
        "prompt_token_ids",
        request("", 4).toBuilder()
            .setPromptTokenIds(TokenIds.newBuilder().addIds(5).addIds(-2))
            .build());
    for (float p : new float[] {Float.NaN, 2.5f, -2.5f}) {
      bad.put(
          "sampling.presence_penalty " + p,
          request("", 4).toBuilder().setSampling(base.toBuilder().setPresencePenalty(p)).build());
      bad.put(
          "sampling.frequency_penalty " + p,
          request("", 4).toBuilder().setSampling(base.toBuilder().setFrequencyPenalty(p)).build());
    }
    for (float p : new float[] {Float.NaN, -1f, Float.POSITIVE_INFINITY}) {
      bad.put(
          "sampling.repetition_penalty " + p,
          request("", 4).toBuilder().setSampling(base.toBuilder().setRepetitionPenalty(p)).build());
    }
    bad.put(
        "sampling.logit_bias value",
        request("", 4).toBuilder().setSampling(base.toBuilder().putLogitBias(3, 100.5f)).build());
    bad.put(
        "sampling.logit_bias id",
        request("", 4).toBuilder().setSampling(base.toBuilder().putLogitBias(-3, 1f)).build());
    bad.put(
        "sampling.top_logprobs 21",
        request("", 4).toBuilder()
            .setLogprobs(true)
            .setSampling(base.toBuilder().setTopLogprobs(21))
            .build());
    bad.put(
        "sampling.top_logprobs without logprobs",
        request("", 4).toBuilder().setSampling(base.toBuilder().setTopLogprobs(2)).build());
    bad.put(
        "sampling.min_tokens",
        request("", 4).toBuilder().setSampling(base.toBuilder().setMinTokens(5)).build());
    bad.put(
        "sampling.stop_token_ids",
        request("", 4).toBuilder().setSampling(base.toBuilder().addStopTokenIds(-1)).build());
    for (var c : bad.entrySet()) {
      StatusRuntimeException e =
          org.junit.jupiter.api.Assertions.assertThrows(
              StatusRuntimeException.class, () -> drain(client(ACME).generate(c.getValue())));
      assertThat(e.getStatus().getCode()).as(c.getKey()).isEqualTo(Status.Code.INVALID_ARGUMENT);
      assertThat(detail(e, BadRequest.class).getFieldViolations(0).getField())
          .as(c.getKey())
          .isEqualTo(c.getKey().split(" ")[0]);
    }
    assertThat(w.generated).isEmpty();
  }

  @Test
  void overTheRateLimitIsResourceExhaustedWithRetryInfo() throws Exception {
    worker("w1");
    drain(client(GLOBEX).generate(request("", 2)));
    StatusRuntimeException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            StatusRuntimeException.class, () -> drain(client(GLOBEX).generate(request("", 2))));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    assertThat(detail(e, RetryInfo.class).getRetryDelay().getSeconds()).isBetween(1L, 2L);
    assertThat(harness.count("flotilla.gateway.rejections", "reason", "requests_per_second"))
        .isEqualTo(1);
  }

  @Test
  void aWorkerFailingBeforeTheFirstTokenIsRetriedOnAnother() throws Exception {
    FakeWorker broken = worker("w1");
    FakeWorker good = worker("w2");
    broken.failAfter = 0;
    good.tokens = 4;
    for (int i = 0; i < 4; i++) {
      List<GenerateResponse> out = drain(client(ACME).generate(request("", 10)));
      assertThat(out.stream().filter(GenerateResponse::hasTokens).count()).isEqualTo(4);
      assertThat(out.get(out.size() - 1).hasFinal()).isTrue();
    }
    assertThat(good.generated).hasSize(4);
    await().until(() -> usage.size() == 4);
    assertThat(usage).allMatch(u -> u.status().equals("OK") && u.completionTokens() == 4);
  }

  @Test
  void aWorkerFailingAfterTheFirstTokenAbortsWithoutDuplicates() throws Exception {
    FakeWorker w = worker("w1");
    FakeWorker w2 = worker("w2");
    for (FakeWorker each : List.of(w, w2)) {
      each.failAfter = 2;
      each.announcedPromptTokens = 11;
    }
    List<GenerateResponse> got = new ArrayList<>();
    Iterator<GenerateResponse> it = client(ACME).generate(request("", 10));
    assertThatThrownBy(() -> it.forEachRemaining(got::add))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.ABORTED));
    assertThat(got).extracting(r -> r.getTokens().getText()).containsExactly("t0 ", "t1 ");
    await().until(() -> usage.size() == 1);
    assertThat(usage.get(0).status()).isEqualTo("ABORTED");
    assertThat(usage.get(0).completionTokens()).isEqualTo(2);
    assertThat(usage.get(0).promptTokens())
        .as("the prompt the worker announced, not the gateway's estimate")
        .isEqualTo(11);
  }

  @Test
  void adapterRequestsGoWhereTheAdapterIsResidentAndLoadItOtherwise() throws Exception {
    FakeWorker w1 = worker("w1");
    FakeWorker w2 = worker("w2");
    w2.resident.add("sql");
    w2.publish();
    await()
        .until(
            () ->
                registry.views(MODEL).stream()
                    .anyMatch(v -> v.id().equals("w2") && v.residentAdapters().contains("sql")));
    for (int i = 0; i < 3; i++) {
      drain(client(ACME).generate(request("sql", 2)));
    }
    assertThat(w2.generated).hasSize(3).allMatch(r -> r.getAdapter().equals("sql"));
    assertThat(w1.generated).isEmpty();
    assertThat(w2.loads).isEmpty();
    drain(client(ACME).generate(request("acme-support", 2)));
    FakeWorker chosen = w1.generated.isEmpty() ? w2 : w1;
    assertThat(chosen.loads).extracting(LoadAdapterRequestName::of).containsExactly("acme-support");
  }

  private static final class LoadAdapterRequestName {
    static String of(dev.flotilla.api.worker.v1.LoadAdapterRequest r) {
      return r.getName();
    }
  }

  @Test
  void aColdModelHoldsTheRequestNotifiesTheAutoscalerAndForwardsWhenAWorkerIsReady()
      throws Exception {
    Iterator<GenerateResponse> it =
        client(ACME).generate(request("", 3).toBuilder().setReportProgress(true).build());
    GenerateResponse first = it.next();
    assertThat(first.getProgress().getPhase()).isEqualTo(HeldProgress.Phase.WAITING_FOR_WORKER);
    assertThat(notified).containsExactly(MODEL);
    assertThat(schedulers.all().get(0).demand().held()).isEqualTo(1);
    worker("w1").tokens = 3;
    List<GenerateResponse> rest = drain(it);
    assertThat(rest.stream().filter(GenerateResponse::hasTokens).count()).isEqualTo(3);
    assertThat(rest.get(rest.size() - 1).hasFinal()).isTrue();
    assertThat(schedulers.all().get(0).demand().held()).isZero();
    assertThat(harness.count("flotilla.gateway.held", "model", MODEL)).isEqualTo(1);
    var released =
        harness
            .meters
            .find("flotilla.gateway.held.duration")
            .tags("model", MODEL, "outcome", "released")
            .timer();
    assertThat(released.count()).isEqualTo(1);
    assertThat(released.totalTime(TimeUnit.NANOSECONDS)).isPositive();
  }

  @Test
  void aRequestHeldPastTheColdStartTimeoutIsUnavailableWithRetryInfo() throws Exception {
    Iterator<GenerateResponse> it =
        client(ACME).generate(request("", 3).toBuilder().setReportProgress(true).build());
    assertThat(it.next().hasProgress()).isTrue();
    clockOffset.addAndGet(Duration.ofSeconds(31).toNanos()); // model's coldStartTimeout is 30s
    schedulers.tick();
    StatusRuntimeException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            StatusRuntimeException.class, () -> drain(it));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(detail(e, RetryInfo.class).getRetryDelay().getSeconds()).isEqualTo(5);
    await().until(() -> usage.size() == 1);
    assertThat(usage.get(0).status()).isEqualTo("UNAVAILABLE");
    var timedOut =
        harness
            .meters
            .find("flotilla.gateway.held.duration")
            .tags("model", MODEL, "outcome", "timed_out")
            .timer();
    assertThat(timedOut.count()).isEqualTo(1);
    assertThat(timedOut.totalTime(TimeUnit.SECONDS)).isGreaterThanOrEqualTo(31);
    assertThat(harness.count("flotilla.gateway.rejections", "reason", "cold_start_timeout"))
        .isEqualTo(1);
    assertThat(harness.count("flotilla.gateway.held", "model", MODEL)).isEqualTo(1);
  }

  @Test
  void theHoldQueueIsBoundedPerTenant() throws Exception {
    // Per-tenant cap is 2 in this harness.
    var async =
        InferenceGrpc.newStub(channel)
            .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(authHeader(ACME)));
    List<io.grpc.stub.StreamObserver<GenerateResponse>> sinks = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      var obs =
          new io.grpc.stub.StreamObserver<GenerateResponse>() {
            public void onNext(GenerateResponse r) {}

            public void onError(Throwable t) {}

            public void onCompleted() {}
          };
      sinks.add(obs);
      async.generate(request("", 2), obs);
    }
    await()
        .until(() -> !schedulers.all().isEmpty() && schedulers.all().get(0).demand().held() == 2);
    assertThat(code(() -> drain(client(ACME).generate(request("", 2)))))
        .isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(harness.count("flotilla.gateway.rejections", "reason", "hold_full")).isEqualTo(1);
    assertThat(harness.count("flotilla.gateway.held", "model", MODEL)).isEqualTo(2);
  }

  @Test
  void theBytesATenantHasHeldAreCappedAcrossItsRequests() throws Exception {
    // Per-tenant caps in this harness: 2 requests, 64 KiB.
    GenerateRequest big = request("", 2).toBuilder().setPrompt("x".repeat(40 * 1024)).build();
    List<io.grpc.stub.ClientCallStreamObserver<?>> calls = new ArrayList<>();
    var first = heldCall(ACME, big, calls);
    await()
        .until(() -> !schedulers.all().isEmpty() && schedulers.all().get(0).demand().held() == 1);

    StatusRuntimeException over =
        org.junit.jupiter.api.Assertions.assertThrows(
            StatusRuntimeException.class, () -> drain(client(ACME).generate(big)));
    assertThat(over.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    assertThat(over.getStatus().getDescription()).contains("acme", "bytes");
    assertThat(detail(over, com.google.rpc.QuotaFailure.class).getViolations(0).getSubject())
        .isEqualTo("tenant:acme");
    assertThat(detail(over, RetryInfo.class).getRetryDelay().getSeconds()).isEqualTo(5);
    assertThat(harness.count("flotilla.gateway.rejections", "reason", "held_bytes")).isEqualTo(1);

    // Within its bytes a small request is held, and another tenant has bytes of its own.
    heldCall(ACME, request("", 2), calls);
    heldCall(GLOBEX, big, calls);
    await().until(() -> schedulers.all().get(0).demand().held() == 3);

    // A hold that ends gives its bytes back.
    first.cancel("client gone", null);
    await().until(() -> schedulers.all().get(0).demand().held() == 2);
    heldCall(ACME, big, calls);
    await().until(() -> schedulers.all().get(0).demand().held() == 3);
    assertThat(harness.count("flotilla.gateway.rejections", "reason", "held_bytes")).isEqualTo(1);
    calls.forEach(c -> c.cancel("test over", null));
  }

  /** Starts a Generate that is held (no worker is ready); returns its call, to cancel it. */
  private io.grpc.stub.ClientCallStreamObserver<?> heldCall(
      String key, GenerateRequest request, List<io.grpc.stub.ClientCallStreamObserver<?>> calls) {
    var started =
        new java.util.concurrent.atomic.AtomicReference<io.grpc.stub.ClientCallStreamObserver<?>>();
    InferenceGrpc.newStub(channel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(authHeader(key)))
        .generate(
            request,
            new io.grpc.stub.ClientResponseObserver<GenerateRequest, GenerateResponse>() {
              @Override
              public void beforeStart(io.grpc.stub.ClientCallStreamObserver<GenerateRequest> call) {
                started.set(call);
              }

              @Override
              public void onNext(GenerateResponse r) {}

              @Override
              public void onError(Throwable t) {}

              @Override
              public void onCompleted() {}
            });
    calls.add(started.get());
    return started.get();
  }

  private static Metadata authHeader(String key) {
    Metadata md = new Metadata();
    md.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + key);
    return md;
  }

  @Test
  void aClientThatCancelsCancelsTheWorkerCallAndIsBilledForWhatItGot() throws Exception {
    FakeWorker w = worker("w1");
    w.stallAfterFirst = true;
    io.grpc.Context.CancellableContext ctx = io.grpc.Context.current().withCancellation();
    Iterator<GenerateResponse> it = ctx.call(() -> client(ACME).generate(request("", 10)));
    assertThat(it.next().getTokens().getText()).isEqualTo("t0 ");
    ctx.cancel(null);
    await().until(() -> w.cancelled.get() == 1);
    await().until(() -> usage.size() == 1);
    assertThat(usage.get(0).status()).isEqualTo("CANCELLED");
    assertThat(usage.get(0).completionTokens()).isEqualTo(1);
    await().until(() -> registry.views(MODEL).get(0).inFlight() == 0);
  }

  /**
   * The client's deadline passing mid-stream ends the request as DEADLINE_EXCEEDED, billed for what
   * was streamed. The deadline reaches the worker call too, and whichever of the two timers fires
   * first, the outcome is the same (a worker call failing with it is not a worker failure).
   */
  @Test
  void aClientDeadlinePassingMidStreamIsRecordedAsDeadlineExceeded() throws Exception {
    FakeWorker w = worker("w1");
    w.stallAfterFirst = true;
    for (int i = 1; i <= 3; i++) {
      Iterator<GenerateResponse> it =
          client(ACME).withDeadlineAfter(300, TimeUnit.MILLISECONDS).generate(request("", 10));
      assertThat(it.next().getTokens().getText()).isEqualTo("t0 ");
      assertThat(code(() -> drain(it))).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
      int n = i;
      await().until(() -> usage.size() == n && w.cancelled.get() == n);
      assertThat(usage.get(i - 1).status()).isEqualTo("DEADLINE_EXCEEDED");
      assertThat(usage.get(i - 1).completionTokens()).isEqualTo(1);
    }
  }

  /**
   * A worker with one batch slot, held by a stalled first request (cancel {@code ctx} to end it),
   * and a second request that reported QUEUED.
   */
  private record FullWorker(
      FakeWorker w, io.grpc.Context.CancellableContext ctx, Iterator<GenerateResponse> second) {}

  private FullWorker oneSlotBusyAndOneRequestQueued() throws Exception {
    FakeWorker w = worker("w1");
    w.maxBatch = 1;
    w.stallAfterFirst = true;
    w.publish();
    await().until(() -> registry.views(MODEL).get(0).maxBatchSize() == 1);
    io.grpc.Context.CancellableContext ctx = io.grpc.Context.current().withCancellation();
    Iterator<GenerateResponse> first = ctx.call(() -> client(ACME).generate(request("", 10)));
    assertThat(first.next().hasTokens()).isTrue();
    Iterator<GenerateResponse> second =
        client(ACME).generate(request("", 10).toBuilder().setReportProgress(true).build());
    assertThat(second.next().getProgress().getPhase()).isEqualTo(HeldProgress.Phase.QUEUED);
    return new FullWorker(w, ctx, second);
  }

  @Test
  void requestsBeyondWorkerCapacityWaitInTheGatewayQueue() throws Exception {
    FullWorker full = oneSlotBusyAndOneRequestQueued();
    FakeWorker w = full.w();
    Iterator<GenerateResponse> second = full.second();
    assertThat(schedulers.all().get(0).demand().queued()).isEqualTo(1);
    assertThat(w.generated).hasSize(1);
    w.stallAfterFirst = false;
    full.ctx().cancel(null); // the first request ends; its slot goes to the queued one
    List<GenerateResponse> rest = drain(second);
    assertThat(rest.get(rest.size() - 1).hasFinal()).isTrue();
    assertThat(w.generated).hasSize(2);
  }

  @Test
  void aRequestQueuedPastTheQueueTimeoutIsUnavailableWithRetryInfo() throws Exception {
    FullWorker full = oneSlotBusyAndOneRequestQueued();
    FakeWorker w = full.w();
    Iterator<GenerateResponse> second = full.second();
    schedulers.tick();
    assertThat(schedulers.all().get(0).demand().queued()).isEqualTo(1);
    clockOffset.addAndGet(PipelineHarness.QUEUE_TIMEOUT.plusSeconds(1).toNanos());
    schedulers.tick();
    StatusRuntimeException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            StatusRuntimeException.class, () -> drain(second));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(detail(e, RetryInfo.class).getRetryDelay().getSeconds()).isEqualTo(2);
    assertThat(schedulers.all().get(0).demand().queued()).isZero();
    assertThat(harness.count("flotilla.gateway.rejections", "reason", "queue_timeout"))
        .isEqualTo(1);
    await().until(() -> usage.size() == 1);
    assertThat(usage.get(0).status()).isEqualTo("UNAVAILABLE");
    full.ctx().cancel(null);
    assertThat(w.generated).hasSize(1);
  }
}
