package dev.flotilla.gateway.openai;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flotilla.api.v1.EmbedRequest;
import dev.flotilla.api.v1.Embedding;
import dev.flotilla.api.v1.Final;
import dev.flotilla.api.v1.HeldProgress;
import dev.flotilla.api.v1.TokenChunk;
import dev.flotilla.gateway.auth.TenantInfo;
import dev.flotilla.gateway.service.GatewayPipeline;
import dev.flotilla.gateway.service.ResponseSink;
import dev.flotilla.gateway.service.RunningRequest;
import io.grpc.Deadline;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerResponse;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * One {@code POST /v1/embeddings} running through the pipeline: the {@link ResponseSink} that
 * answers it with one JSON object once every vector is there. A closed connection cancels the
 * request; the HTTP timeout cancels it and answers 504.
 */
final class EmbeddingsExchange implements ResponseSink {
  private final HttpServerResponse response;
  private final Vertx vertx;
  private final ObjectMapper json;
  private final String requestId;
  private final String model;
  private final OpenAiEmbeddings.Encoding encoding;
  // guarded by this
  private List<Embedding> vectors = List.of();
  private boolean ended;
  private RunningRequest run;
  private Boolean abandonedWithDeadline;
  private long timer = -1;

  EmbeddingsExchange(
      HttpServerResponse response,
      Vertx vertx,
      ObjectMapper json,
      String requestId,
      String model,
      OpenAiEmbeddings.Encoding encoding) {
    this.response = response;
    this.vertx = vertx;
    this.json = json;
    this.requestId = requestId;
    this.model = model;
    this.encoding = encoding;
  }

  /** Runs the request; returns once it is admitted or answered. */
  void run(
      GatewayPipeline pipeline,
      TenantInfo tenant,
      Supplier<EmbedRequest> request,
      long timeoutNanos) {
    response.closeHandler(v -> abandon(false));
    long t =
        vertx.setTimer(
            Math.max(1, TimeUnit.NANOSECONDS.toMillis(timeoutNanos)), id -> abandon(true));
    synchronized (this) {
      timer = t;
    }
    RunningRequest r =
        pipeline.embed(tenant, request, this, Deadline.after(timeoutNanos, TimeUnit.NANOSECONDS));
    Boolean cancelNow;
    synchronized (this) {
      run = r;
      cancelNow = abandonedWithDeadline;
    }
    if (r != null && cancelNow != null) {
      r.clientCancelled(cancelNow);
    }
  }

  private void abandon(boolean deadline) {
    RunningRequest r;
    synchronized (this) {
      if (ended) {
        return;
      }
      r = run;
      abandonedWithDeadline = deadline;
    }
    if (r != null) {
      r.clientCancelled(deadline);
    }
    if (deadline) {
      fail(
          Status.DEADLINE_EXCEEDED
              .withDescription("the request did not finish within the gateway's HTTP timeout")
              .asRuntimeException());
    } else {
      synchronized (this) {
        ended = true;
        vertx.cancelTimer(timer);
      }
    }
  }

  @Override
  public boolean isReady() {
    return true;
  }

  @Override
  public void tokens(TokenChunk chunk) {
    throw new IllegalStateException("an embedding request streams no tokens");
  }

  @Override
  public synchronized void embeddings(List<Embedding> vectors) {
    this.vectors = List.copyOf(vectors);
  }

  @Override
  public void progress(HeldProgress progress) {}

  @Override
  public synchronized void complete(Final fin) {
    if (!ended) {
      end(200, OpenAiEmbeddings.response(json, model, vectors, encoding, fin), null);
    }
  }

  @Override
  public synchronized void fail(StatusRuntimeException error) {
    if (!ended) {
      OpenAiError e = OpenAiError.of(error);
      end(e.httpStatus(), e.body(json), e);
    }
  }

  private void end(int status, ObjectNode body, OpenAiError error) {
    response
        .setStatusCode(status)
        .putHeader("Content-Type", "application/json")
        .putHeader("X-Request-Id", requestId);
    if (error != null && error.retryAfterSeconds() != null) {
      response
          .putHeader("Retry-After", error.retryAfterSeconds())
          .putHeader("retry-after-ms", Long.toString(error.retryAfterMillis()));
    }
    try {
      response.end(json.writeValueAsString(body));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a JSON tree always serializes", e);
    }
    ended = true;
    vertx.cancelTimer(timer);
  }
}
