package dev.flotilla.local;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.RetryInfo;
import dev.flotilla.api.v1.Final;
import dev.flotilla.api.v1.GenerateRequest;
import dev.flotilla.api.v1.GenerateResponse;
import dev.flotilla.api.v1.HeldProgress;
import dev.flotilla.api.v1.InferenceGrpc;
import io.grpc.Status;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * One streamed Generate call as the client saw it: progress messages, tokens with the time each
 * arrived, the Final message or the error status. Thread-safe to read while it runs.
 */
final class Generation implements StreamObserver<GenerateResponse> {
  final String tenant;
  final GenerateRequest request;
  final long startNanos = System.nanoTime();
  private final List<HeldProgress> progress = new ArrayList<>();
  private final List<Integer> tokenIds = new ArrayList<>();
  private final StringBuilder text = new StringBuilder();
  private final CompletableFuture<Generation> done = new CompletableFuture<>();
  private volatile long firstTokenNanos = -1;
  private volatile long lastTokenNanos = -1;
  private volatile Final fin;
  private volatile Status error;
  private volatile com.google.rpc.Status errorDetails;

  private Generation(String tenant, GenerateRequest request) {
    this.tenant = tenant;
    this.request = request;
  }

  /**
   * @param tenant the tenant the stub's API key belongs to, for checks
   */
  static Generation start(
      String tenant, InferenceGrpc.InferenceStub stub, GenerateRequest request) {
    Generation g = new Generation(tenant, request);
    stub.generate(request, g);
    return g;
  }

  @Override
  public synchronized void onNext(GenerateResponse value) {
    switch (value.getEventCase()) {
      case PROGRESS -> progress.add(value.getProgress());
      case TOKENS -> {
        long now = System.nanoTime();
        if (firstTokenNanos < 0) {
          firstTokenNanos = now;
        }
        lastTokenNanos = now;
        tokenIds.addAll(value.getTokens().getTokenIdsList());
        text.append(value.getTokens().getText());
      }
      case FINAL -> fin = value.getFinal();
      default -> throw new IllegalStateException("empty GenerateResponse");
    }
  }

  @Override
  public void onError(Throwable t) {
    error = Status.fromThrowable(t);
    errorDetails = StatusProto.fromThrowable(t);
    done.complete(this);
  }

  @Override
  public void onCompleted() {
    done.complete(this);
  }

  /** Waits for the end of the stream; fails the test when it does not end in time (a hang). */
  Generation await(long seconds) throws Exception {
    return done.get(seconds, TimeUnit.SECONDS);
  }

  boolean isDone() {
    return done.isDone();
  }

  synchronized List<HeldProgress> progress() {
    return List.copyOf(progress);
  }

  synchronized List<Integer> tokenIds() {
    return List.copyOf(tokenIds);
  }

  synchronized String text() {
    return text.toString();
  }

  synchronized int tokenCount() {
    return tokenIds.size();
  }

  /** The Final message; null when the stream failed or has not ended. */
  Final fin() {
    return fin;
  }

  /** The error status; null when the stream completed. */
  Status error() {
    return error;
  }

  /** The RetryInfo detail of the error status, if it has one. */
  Optional<RetryInfo> retryInfo() throws InvalidProtocolBufferException {
    if (errorDetails != null) {
      for (Any detail : errorDetails.getDetailsList()) {
        if (detail.is(RetryInfo.class)) {
          return Optional.of(detail.unpack(RetryInfo.class));
        }
      }
    }
    return Optional.empty();
  }

  long firstTokenNanos() {
    return firstTokenNanos;
  }

  long lastTokenNanos() {
    return lastTokenNanos;
  }

  long timeToFirstTokenMillis() {
    return firstTokenNanos < 0 ? -1 : (firstTokenNanos - startNanos) / 1_000_000;
  }

  @Override
  public String toString() {
    return request.getRequestId()
        + " ("
        + request.getModel()
        + ":"
        + request.getAdapter()
        + "): "
        + (error != null ? error : fin == null ? "running" : "OK " + fin.getFinishReason())
        + " after "
        + tokenCount()
        + " tokens";
  }
}
