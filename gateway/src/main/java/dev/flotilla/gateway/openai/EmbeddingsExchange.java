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
import io.grpc.StatusRuntimeException;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerResponse;
import java.util.List;
import java.util.function.Supplier;

/**
 * One {@code POST /v1/embeddings} running through the pipeline: the {@link ResponseSink} that
 * answers it with one JSON object once every vector is there. A closed connection cancels the
 * request; the HTTP timeout cancels it and answers 504 ({@link HttpExchange}).
 */
final class EmbeddingsExchange extends HttpExchange {
  private final ObjectMapper json;
  private final String requestId;
  private final String model;
  private final OpenAiEmbeddings.Encoding encoding;
  // guarded by this
  private List<Embedding> vectors = List.of();

  EmbeddingsExchange(
      HttpServerResponse response,
      Vertx vertx,
      ObjectMapper json,
      String requestId,
      String model,
      OpenAiEmbeddings.Encoding encoding) {
    super(response, vertx);
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
    run(deadline -> pipeline.embed(tenant, request, this, deadline), timeoutNanos);
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
    if (!isEnded()) {
      end(200, OpenAiEmbeddings.response(json, model, vectors, encoding, fin), null);
    }
  }

  @Override
  public synchronized void fail(StatusRuntimeException error) {
    if (!isEnded()) {
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
    ended();
  }
}
