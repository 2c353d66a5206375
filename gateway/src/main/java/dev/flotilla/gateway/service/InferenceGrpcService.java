package dev.flotilla.gateway.service;

import dev.flotilla.api.v1.Choice;
import dev.flotilla.api.v1.ChoiceEnd;
import dev.flotilla.api.v1.CompleteResponse;
import dev.flotilla.api.v1.EmbedRequest;
import dev.flotilla.api.v1.EmbedResponse;
import dev.flotilla.api.v1.Embedding;
import dev.flotilla.api.v1.Final;
import dev.flotilla.api.v1.GenerateRequest;
import dev.flotilla.api.v1.GenerateResponse;
import dev.flotilla.api.v1.HeldProgress;
import dev.flotilla.api.v1.InferenceGrpc;
import dev.flotilla.api.v1.ListModelsRequest;
import dev.flotilla.api.v1.ListModelsResponse;
import dev.flotilla.api.v1.TokenChunk;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;
import jakarta.inject.Inject;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@code flotilla.v1.Inference} over gRPC. Generate streams with flow control: the worker stream is
 * paused while the client is not ready, and a cancelled client call cancels the worker call.
 *
 * <p>Not blocking: calls run on the event loop that read them. No pipeline step waits there; a
 * request that ends at once (refused, invalid, over its limits) is answered from the usage ledger's
 * writer once its event is on disk. A hand-off to a worker pool would put two thread switches on
 * each request's way to its first token.
 */
@GrpcService
public class InferenceGrpcService extends InferenceGrpc.InferenceImplBase {
  private final GatewayPipeline pipeline;

  @Inject
  public InferenceGrpcService(GatewayPipeline pipeline) {
    this.pipeline = pipeline;
  }

  @Override
  public void generate(GenerateRequest request, StreamObserver<GenerateResponse> observer) {
    ServerCallStreamObserver<GenerateResponse> call =
        (ServerCallStreamObserver<GenerateResponse>) observer;
    run(
        request,
        call,
        new ResponseSink() {
          @Override
          public boolean isReady() {
            return call.isReady();
          }

          @Override
          public void tokens(TokenChunk chunk) {
            call.onNext(GenerateResponse.newBuilder().setTokens(chunk).build());
          }

          @Override
          public void progress(HeldProgress progress) {
            call.onNext(GenerateResponse.newBuilder().setProgress(progress).build());
          }

          @Override
          public void complete(Final fin) {
            call.onNext(GenerateResponse.newBuilder().setFinal(fin).build());
            call.onCompleted();
          }

          @Override
          public void fail(StatusRuntimeException error) {
            call.onError(error);
          }
        });
  }

  @Override
  public void complete(GenerateRequest request, StreamObserver<CompleteResponse> observer) {
    ServerCallStreamObserver<CompleteResponse> call =
        (ServerCallStreamObserver<CompleteResponse>) observer;
    CompleteResponse.Builder out = CompleteResponse.newBuilder();
    Map<Integer, Choice.Builder> choices = new TreeMap<>(); // by index
    // Progress is a streaming feature; Complete ignores report_progress.
    run(
        request.toBuilder().setReportProgress(false).build(),
        call,
        new ResponseSink() {
          @Override
          public boolean isReady() {
            return true;
          }

          @Override
          public void tokens(TokenChunk chunk) {
            Choice.Builder c =
                choices.computeIfAbsent(
                    chunk.getIndex(), i -> Choice.newBuilder().setIndex(i).setText(""));
            c.setText(c.getText() + chunk.getText())
                .addAllTokenIds(chunk.getTokenIdsList())
                .addAllLogprobs(chunk.getLogprobsList())
                .addAllTopLogprobs(chunk.getTopLogprobsList())
                .addAllTokens(chunk.getTokensList());
          }

          @Override
          public void progress(HeldProgress progress) {}

          @Override
          public void complete(Final fin) {
            Choice.Builder first = choices.computeIfAbsent(0, i -> Choice.newBuilder());
            out.setText(first.getText())
                .addAllTokenIds(first.getTokenIdsList())
                .addAllLogprobs(first.getLogprobsList())
                .addAllTopLogprobs(first.getTopLogprobsList())
                .addAllTokens(first.getTokensList())
                .setFinal(fin);
            // A choice that produced only an end token still has its place.
            for (ChoiceEnd end : fin.getChoicesList()) {
              out.addChoices(
                  choices
                      .computeIfAbsent(end.getIndex(), i -> Choice.newBuilder().setIndex(i))
                      .setFinishReason(end.getFinishReason()));
            }
            call.onNext(out.build());
            call.onCompleted();
          }

          @Override
          public void fail(StatusRuntimeException error) {
            call.onError(error);
          }
        });
  }

  @Override
  public void embed(EmbedRequest request, StreamObserver<EmbedResponse> observer) {
    ServerCallStreamObserver<EmbedResponse> call =
        (ServerCallStreamObserver<EmbedResponse>) observer;
    EmbedResponse.Builder out = EmbedResponse.newBuilder();
    Deadline deadline = Context.current().getDeadline();
    AtomicReference<RunningRequest> running = new AtomicReference<>();
    call.setOnCancelHandler(
        () -> {
          RunningRequest r = running.get();
          if (r != null) {
            r.clientCancelled(deadlinePassed(deadline));
          }
        });
    RunningRequest r =
        pipeline.embed(
            AuthorizationInterceptor.AUTHORIZATION.get(),
            () -> request,
            new ResponseSink() {
              @Override
              public boolean isReady() {
                return true;
              }

              @Override
              public void tokens(TokenChunk chunk) {
                throw new IllegalStateException("an embedding request streams no tokens");
              }

              @Override
              public void embeddings(List<Embedding> vectors) {
                out.addAllEmbeddings(vectors);
              }

              @Override
              public void progress(HeldProgress progress) {}

              @Override
              public void complete(Final fin) {
                call.onNext(
                    out.setRequestId(fin.getRequestId())
                        .setUsage(fin.getUsage())
                        .setTimings(fin.getTimings())
                        .build());
                call.onCompleted();
              }

              @Override
              public void fail(StatusRuntimeException error) {
                call.onError(error);
              }
            },
            deadline);
    running.set(r);
    if (r != null && call.isCancelled()) {
      r.clientCancelled(deadlinePassed(deadline));
    }
  }

  private static final long DEADLINE_SLACK_MS = 20;

  private void run(GenerateRequest request, ServerCallStreamObserver<?> call, ResponseSink sink) {
    Deadline deadline = Context.current().getDeadline();
    AtomicReference<RunningRequest> running = new AtomicReference<>();
    call.setOnCancelHandler(
        () -> {
          RunningRequest r = running.get();
          if (r != null) {
            r.clientCancelled(deadlinePassed(deadline));
          }
        });
    call.setOnReadyHandler(
        () -> {
          RunningRequest r = running.get();
          if (r != null) {
            r.onClientReady();
          }
        });
    RunningRequest r =
        pipeline.start(AuthorizationInterceptor.AUTHORIZATION.get(), () -> request, sink, deadline);
    running.set(r);
    if (r != null && call.isCancelled()) {
      r.clientCancelled(deadlinePassed(deadline));
    }
  }

  /**
   * Whether a cancellation is the client's deadline. The client's own timer fires first and its
   * reset arrives before this side's copy of the deadline has quite passed: the copy starts when
   * the request arrives, one network hop after the client's, so on loopback the reset comes first.
   * Within {@value #DEADLINE_SLACK_MS} ms of it, a cancellation counts as the deadline.
   */
  private static boolean deadlinePassed(Deadline deadline) {
    return deadline != null && deadline.timeRemaining(TimeUnit.MILLISECONDS) <= DEADLINE_SLACK_MS;
  }

  @Override
  public void listModels(ListModelsRequest request, StreamObserver<ListModelsResponse> observer) {
    try {
      observer.onNext(pipeline.listModels(AuthorizationInterceptor.AUTHORIZATION.get()));
      observer.onCompleted();
    } catch (StatusRuntimeException e) {
      observer.onError(e);
    }
  }
}
