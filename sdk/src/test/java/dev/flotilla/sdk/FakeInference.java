package dev.flotilla.sdk;

import dev.flotilla.api.v1.CompleteResponse;
import dev.flotilla.api.v1.EmbedRequest;
import dev.flotilla.api.v1.EmbedResponse;
import dev.flotilla.api.v1.GenerateRequest;
import dev.flotilla.api.v1.GenerateResponse;
import dev.flotilla.api.v1.InferenceGrpc;
import dev.flotilla.api.v1.ListModelsRequest;
import dev.flotilla.api.v1.ListModelsResponse;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A scripted stand-in for the gateway's Inference service: each test sets the handlers it needs,
 * and the fake records what the client sent and whether the client cancelled a stream.
 */
public final class FakeInference extends InferenceGrpc.InferenceImplBase {

  /** Answers one call; {@code attempt} counts calls of this method from 1. */
  @FunctionalInterface
  public interface Handler<T> {
    void handle(GenerateRequest request, ServerCallStreamObserver<T> responses, int attempt);
  }

  public volatile Handler<GenerateResponse> onGenerate = FakeInference::unimplemented;
  public volatile Handler<CompleteResponse> onComplete = FakeInference::unimplemented;
  public volatile Handler<ListModelsResponse> onListModels = FakeInference::unimplemented;

  public final List<GenerateRequest> generateRequests = new CopyOnWriteArrayList<>();
  public final List<GenerateRequest> completeRequests = new CopyOnWriteArrayList<>();
  public final AtomicInteger listModelsCalls = new AtomicInteger();

  /** Answers Embed; {@code attempt} counts Embed calls from 1. */
  @FunctionalInterface
  public interface EmbedHandler {
    void handle(
        EmbedRequest request, ServerCallStreamObserver<EmbedResponse> responses, int attempt);
  }

  public volatile EmbedHandler onEmbed =
      (request, responses, attempt) -> unimplemented(null, responses, attempt);
  public final List<EmbedRequest> embedRequests = new CopyOnWriteArrayList<>();

  /** Counted down when the client cancels a Generate call (or its deadline passes). */
  public final CountDownLatch generateCancelled = new CountDownLatch(1);

  @Override
  public void generate(GenerateRequest request, StreamObserver<GenerateResponse> responseObserver) {
    generateRequests.add(request);
    var responses = (ServerCallStreamObserver<GenerateResponse>) responseObserver;
    responses.setOnCancelHandler(generateCancelled::countDown);
    onGenerate.handle(request, responses, generateRequests.size());
  }

  @Override
  public void complete(GenerateRequest request, StreamObserver<CompleteResponse> responseObserver) {
    completeRequests.add(request);
    onComplete.handle(
        request,
        (ServerCallStreamObserver<CompleteResponse>) responseObserver,
        completeRequests.size());
  }

  @Override
  public void listModels(
      ListModelsRequest request, StreamObserver<ListModelsResponse> responseObserver) {
    onListModels.handle(
        GenerateRequest.getDefaultInstance(),
        (ServerCallStreamObserver<ListModelsResponse>) responseObserver,
        listModelsCalls.incrementAndGet());
  }

  @Override
  public void embed(EmbedRequest request, StreamObserver<EmbedResponse> responseObserver) {
    embedRequests.add(request);
    onEmbed.handle(
        request, (ServerCallStreamObserver<EmbedResponse>) responseObserver, embedRequests.size());
  }

  private static <T> void unimplemented(
      GenerateRequest request, ServerCallStreamObserver<T> responses, int attempt) {
    responses.onError(
        Status.UNIMPLEMENTED.withDescription("not scripted by this test").asRuntimeException());
  }
}
