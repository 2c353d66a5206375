package dev.flotilla.api.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Any;
import com.google.protobuf.Duration;
import com.google.rpc.Code;
import com.google.rpc.QuotaFailure;
import com.google.rpc.RetryInfo;
import dev.flotilla.api.v1.CompleteResponse;
import dev.flotilla.api.v1.Final;
import dev.flotilla.api.v1.FinishReason;
import dev.flotilla.api.v1.GenerateRequest;
import dev.flotilla.api.v1.GenerateResponse;
import dev.flotilla.api.v1.InferenceGrpc;
import dev.flotilla.api.v1.ListModelsRequest;
import dev.flotilla.api.v1.ListModelsResponse;
import dev.flotilla.api.v1.ModelInfo;
import dev.flotilla.api.v1.SamplingParams;
import dev.flotilla.api.v1.TokenChunk;
import dev.flotilla.api.v1.Usage;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The client API's stubs carry every field and the google.rpc error details end to end. */
class InferenceRoundTripTest {
  private InProcessGrpc grpc;
  private InferenceGrpc.InferenceBlockingStub client;

  /** Echoes the request back as tokens so the test can see what the server received. */
  static final class EchoInference extends InferenceGrpc.InferenceImplBase {
    @Override
    public void generate(GenerateRequest request, StreamObserver<GenerateResponse> out) {
      if (request.getModel().isEmpty()) {
        com.google.rpc.Status status =
            com.google.rpc.Status.newBuilder()
                .setCode(Code.RESOURCE_EXHAUSTED_VALUE)
                .setMessage("tokens per minute exceeded")
                .addDetails(
                    Any.pack(
                        RetryInfo.newBuilder()
                            .setRetryDelay(Duration.newBuilder().setSeconds(7))
                            .build()))
                .addDetails(
                    Any.pack(
                        QuotaFailure.newBuilder()
                            .addViolations(
                                QuotaFailure.Violation.newBuilder()
                                    .setSubject("tenant:acme")
                                    .setDescription("tokensPerMinute"))
                            .build()))
                .build();
        out.onError(StatusProto.toStatusRuntimeException(status));
        return;
      }
      for (int id : request.getPromptTokenIds().getIdsList()) {
        out.onNext(
            GenerateResponse.newBuilder()
                .setTokens(TokenChunk.newBuilder().setText("t" + id).addTokenIds(id))
                .build());
      }
      out.onNext(GenerateResponse.newBuilder().setFinal(finalFor(request)).build());
      out.onCompleted();
    }

    @Override
    public void complete(GenerateRequest request, StreamObserver<CompleteResponse> out) {
      out.onNext(
          CompleteResponse.newBuilder()
              .setText(
                  request.getPrompt()
                      + "|"
                      + request.getAdapter()
                      + "|"
                      + request.getSampling().getStopList())
              .setFinal(finalFor(request))
              .build());
      out.onCompleted();
    }

    @Override
    public void listModels(ListModelsRequest request, StreamObserver<ListModelsResponse> out) {
      out.onNext(
          ListModelsResponse.newBuilder()
              .addModels(ModelInfo.newBuilder().setName("tiny-llama").setMaxSequenceLength(2048))
              .build());
      out.onCompleted();
    }

    private static Final finalFor(GenerateRequest request) {
      int prompt = request.getPromptTokenIds().getIdsCount();
      return Final.newBuilder()
          .setRequestId(request.getRequestId())
          .setFinishReason(FinishReason.LENGTH)
          .setUsage(
              Usage.newBuilder()
                  .setPromptTokens(prompt)
                  .setCompletionTokens(request.getSampling().getMaxTokens())
                  .setTotalTokens(prompt + request.getSampling().getMaxTokens()))
          .build();
    }
  }

  @BeforeEach
  void start() throws Exception {
    grpc = new InProcessGrpc(new EchoInference());
    client = InferenceGrpc.newBlockingStub(grpc.channel);
  }

  @AfterEach
  void stop() throws InterruptedException {
    grpc.close();
  }

  @Test
  void generateStreamsTokensThenFinalUsage() {
    GenerateRequest request =
        GenerateRequest.newBuilder()
            .setModel("tiny-llama")
            .setAdapter("acme-support")
            .setPromptTokenIds(dev.flotilla.api.v1.TokenIds.newBuilder().addIds(5).addIds(9))
            .setSampling(
                SamplingParams.newBuilder()
                    .setTemperature(0.7f)
                    .setTopK(40)
                    .setTopP(0.9f)
                    .setSeed(42)
                    .setMaxTokens(3))
            .setRequestId("req-1")
            .build();

    List<GenerateResponse> responses = new ArrayList<>();
    client.generate(request).forEachRemaining(responses::add);

    assertThat(responses).hasSize(3);
    assertThat(responses.get(0).getTokens().getTokenIdsList()).containsExactly(5);
    assertThat(responses.get(1).getTokens().getText()).isEqualTo("t9");
    Final last = responses.get(2).getFinal();
    assertThat(last.getRequestId()).isEqualTo("req-1");
    assertThat(last.getFinishReason()).isEqualTo(FinishReason.LENGTH);
    assertThat(last.getUsage().getTotalTokens()).isEqualTo(5);
  }

  @Test
  void completeCarriesPromptAdapterAndStops() {
    CompleteResponse response =
        client.complete(
            GenerateRequest.newBuilder()
                .setModel("tiny-llama")
                .setAdapter("globex-sql")
                .setPrompt("hello")
                .setSampling(SamplingParams.newBuilder().addStop("\n\n").addStop("END"))
                .build());
    assertThat(response.getText()).isEqualTo("hello|globex-sql|[\n\n, END]");
  }

  @Test
  void listModels() {
    assertThat(client.listModels(ListModelsRequest.getDefaultInstance()).getModelsList())
        .extracting(ModelInfo::getName)
        .containsExactly("tiny-llama");
  }

  @Test
  void errorsCarryGoogleRpcDetails() {
    assertThatThrownBy(() -> client.generate(GenerateRequest.getDefaultInstance()).next())
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
              com.google.rpc.Status details = StatusProto.fromThrowable(e);
              assertThat(details).isNotNull();
              assertThat(details.getDetailsList()).hasSize(2);
              assertThat(
                      unpack(details.getDetails(0), RetryInfo.class).getRetryDelay().getSeconds())
                  .isEqualTo(7);
              assertThat(
                      unpack(details.getDetails(1), QuotaFailure.class)
                          .getViolations(0)
                          .getSubject())
                  .isEqualTo("tenant:acme");
            });
  }

  private static <T extends com.google.protobuf.Message> T unpack(Any any, Class<T> type) {
    try {
      return any.unpack(type);
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new AssertionError(e);
    }
  }
}
