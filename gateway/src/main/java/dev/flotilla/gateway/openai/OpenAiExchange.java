package dev.flotilla.gateway.openai;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flotilla.api.v1.ChoiceEnd;
import dev.flotilla.api.v1.Final;
import dev.flotilla.api.v1.GenerateRequest;
import dev.flotilla.api.v1.HeldProgress;
import dev.flotilla.api.v1.TokenChunk;
import dev.flotilla.gateway.auth.TenantInfo;
import dev.flotilla.gateway.service.GatewayPipeline;
import dev.flotilla.gateway.service.RunningRequest;
import io.grpc.StatusRuntimeException;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Supplier;

/**
 * One OpenAI HTTP request running through the pipeline: the {@link ResponseSink} that answers it as
 * one JSON object or as Server-Sent Events, plus the HTTP side of its life.
 *
 * <ul>
 *   <li>Nothing is written until the first token or the outcome, so a request refused or timed out
 *       before its first token gets a real status code (401, 429, 503 ...) even when it asked to
 *       stream. After SSE began, an error becomes a last {@code data: {"error":...}} event (the
 *       {@code openai} clients raise it) and the stream ends without {@code [DONE]}.
 *   <li>Flow control: while the connection's write queue is full the worker stream pauses; the
 *       drain handler resumes it.
 *   <li>A closed connection cancels the request; the HTTP timeout cancels it and answers 504
 *       ({@link HttpExchange}).
 *   <li>Held-while-cold progress is not sent: it would commit a 200 before the outcome is known.
 * </ul>
 */
final class OpenAiExchange extends HttpExchange {
  private final OpenAiJson json;
  private final OpenAiJson.Head head;
  private final OpenAiRequests.Options options;
  // guarded by this
  private final Map<Integer, OpenAiJson.ChoiceText> choices = new TreeMap<>(); // by index
  private final Set<Integer> roleSent = new HashSet<>(); // chat stream: choices that had their role
  private boolean committed;

  OpenAiExchange(
      HttpServerResponse response,
      Vertx vertx,
      OpenAiJson json,
      OpenAiJson.Head head,
      OpenAiRequests.Options options) {
    super(response, vertx);
    this.json = json;
    this.head = head;
    this.options = options;
  }

  /** Runs the request; returns once it is admitted or answered. */
  void run(
      GatewayPipeline pipeline,
      TenantInfo tenant,
      Supplier<GenerateRequest> request,
      long timeoutNanos) {
    if (options.stream()) {
      response.drainHandler(
          v -> {
            RunningRequest r = running();
            if (r != null) {
              r.onClientReady();
            }
          });
    }
    run(deadline -> pipeline.start(tenant, request, this, deadline), timeoutNanos);
  }

  @Override
  public boolean isReady() {
    return !options.stream() || !response.writeQueueFull();
  }

  @Override
  public synchronized void tokens(TokenChunk chunk) {
    if (isEnded()) {
      return;
    }
    if (!options.stream()) {
      choice(chunk.getIndex()).add(chunk);
      return;
    }
    commitStream();
    send(
        json.chunk(
            head,
            chunk,
            roleSent.add(chunk.getIndex()),
            options.logprobs(),
            options.includeUsage()));
  }

  @Override
  public void progress(HeldProgress progress) {}

  @Override
  public synchronized void complete(Final fin) {
    if (isEnded()) {
      return;
    }
    if (!options.stream()) {
      choice(0); // an answer has choice 0 even when it produced no token
      fin.getChoicesList().forEach(c -> choice(c.getIndex()));
      end(200, json.completion(head, choices, fin), null);
      return;
    }
    commitStream();
    if (fin.getChoicesCount() == 0) {
      send(json.finishChunk(head, 0, fin.getFinishReason(), options.includeUsage()));
    }
    for (ChoiceEnd c : fin.getChoicesList()) {
      send(json.finishChunk(head, c.getIndex(), c.getFinishReason(), options.includeUsage()));
    }
    if (options.includeUsage()) {
      send(json.usageChunk(head, fin));
    }
    response.write("data: [DONE]\n\n");
    finishResponse();
  }

  @Override
  public synchronized void fail(StatusRuntimeException error) {
    if (isEnded()) {
      return;
    }
    OpenAiError e = OpenAiError.of(error);
    if (committed) {
      send(e.body(json.mapper()));
      finishResponse();
    } else {
      end(e.httpStatus(), e.body(json.mapper()), e);
    }
  }

  private OpenAiJson.ChoiceText choice(int index) {
    return choices.computeIfAbsent(index, i -> new OpenAiJson.ChoiceText(options.logprobs()));
  }

  private void commitStream() {
    if (!committed) {
      committed = true;
      response
          .setStatusCode(200)
          .setChunked(true)
          .putHeader("Content-Type", "text/event-stream; charset=utf-8")
          .putHeader("Cache-Control", "no-cache")
          .putHeader("X-Request-Id", requestId());
    }
  }

  private void send(ObjectNode node) {
    response.write(Buffer.buffer("data: " + write(node) + "\n\n"));
  }

  private void end(int status, ObjectNode body, OpenAiError error) {
    response
        .setStatusCode(status)
        .putHeader("Content-Type", "application/json")
        .putHeader("X-Request-Id", requestId());
    if (error != null && error.retryAfterSeconds() != null) {
      // retry-after-ms is what OpenAI's own clients read first; Retry-After is the standard.
      response
          .putHeader("Retry-After", error.retryAfterSeconds())
          .putHeader("retry-after-ms", Long.toString(error.retryAfterMillis()));
    }
    response.end(write(body));
    ended();
  }

  private void finishResponse() {
    response.end();
    ended();
  }

  private String requestId() {
    return head.id().substring(head.id().indexOf('-') + 1);
  }

  private String write(ObjectNode node) {
    try {
      return json.mapper().writeValueAsString(node);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a JSON tree always serializes", e);
    }
  }
}
