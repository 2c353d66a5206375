package dev.flotilla.gateway.openai;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.gateway.auth.TenantInfo;
import dev.flotilla.gateway.openai.OpenAiRequests.Endpoint;
import dev.flotilla.gateway.service.GatewayPipeline;
import dev.flotilla.gateway.status.GatewayStatus;
import io.grpc.StatusRuntimeException;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpVersion;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.UUID;

/**
 * The OpenAI-compatible HTTP surface: {@code POST /v1/completions}, {@code POST
 * /v1/chat/completions} (JSON, or SSE with {@code stream: true}), {@code POST /v1/embeddings}
 * ({@link OpenAiEmbeddings}) and {@code GET /v1/models}, on the same {@link GatewayPipeline} as
 * gRPC. This class only translates: the body to a GenerateRequest ({@link OpenAiRequests}),
 * pipeline output to OpenAI's shapes ({@link OpenAiJson}) and statuses to OpenAI errors ({@link
 * OpenAiError}).
 *
 * <p>Handlers run on the event loop, as the gRPC service does: no pipeline step blocks (a usage
 * event's fsync is the ledger writer's), and the body handler has read the body, which it does only
 * for a caller whose API key is valid.
 */
public final class OpenAiHttp {
  /** Where {@link #authenticate} leaves the caller's tenant for the request's handler. */
  private static final String TENANT = "flotilla.tenant";

  /**
   * @param timeout the deadline of one HTTP request (answered 504 past it)
   */
  public record Settings(Duration timeout, long maxBodyBytes) {}

  private final GatewayPipeline pipeline;
  private final OpenAiJson json;
  private final Vertx vertx;
  private final Settings settings;
  private final Clock clock;

  public OpenAiHttp(
      GatewayPipeline pipeline, ObjectMapper mapper, Vertx vertx, Settings settings, Clock clock) {
    this.pipeline = pipeline;
    this.json = new OpenAiJson(mapper);
    this.vertx = vertx;
    this.settings = settings;
    this.clock = clock;
  }

  public void register(Router router) {
    // A route of its own: Vert.x puts a body handler before any user handler of the same route.
    router.post("/v1/completions").handler(this::authenticate);
    router.post("/v1/chat/completions").handler(this::authenticate);
    BodyHandler body = BodyHandler.create(false).setBodyLimit(settings.maxBodyBytes());
    router
        .post("/v1/completions")
        .handler(body)
        .handler(ctx -> generate(ctx, Endpoint.COMPLETIONS));
    router.post("/v1/chat/completions").handler(body).handler(ctx -> generate(ctx, Endpoint.CHAT));
    router.get("/v1/models").handler(this::models);
    router.post("/v1/embeddings").handler(this::authenticate);
    router.post("/v1/embeddings").handler(body).handler(this::embed);
  }

  private void embed(RoutingContext ctx) {
    TenantInfo tenant = ctx.get(TENANT);
    Buffer raw = ctx.body().buffer();
    JsonNode body;
    String parseError = null;
    try {
      body = raw == null ? null : json.mapper().readTree(raw.getBytes());
    } catch (IOException e) {
      body = null;
      parseError = e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.toString();
    }
    String requestId = requestId(ctx.request().getHeader("X-Request-Id"));
    OpenAiEmbeddings.Encoding encoding;
    try {
      encoding = OpenAiEmbeddings.encoding(body);
    } catch (StatusRuntimeException e) {
      encoding = OpenAiEmbeddings.Encoding.FLOAT; // the request fails by name in the pipeline
    }
    String model = body == null ? "" : body.path("model").asText("");
    EmbeddingsExchange exchange =
        new EmbeddingsExchange(ctx.response(), vertx, json.mapper(), requestId, model, encoding);
    JsonNode parsed = body;
    String invalid = parseError;
    exchange.run(
        pipeline,
        tenant,
        () -> {
          if (invalid != null) {
            throw GatewayStatus.invalidArgument("body", "not valid JSON: " + invalid);
          }
          return OpenAiEmbeddings.toEmbedRequest(parsed, requestId);
        },
        settings.timeout().toNanos());
  }

  /**
   * Checks the API key from the headers alone, before the body handler reads a byte: a caller
   * without a valid key gets 401 and makes the gateway neither buffer nor parse its body, however
   * large or malformed.
   */
  private void authenticate(RoutingContext ctx) {
    TenantInfo tenant;
    try {
      tenant = pipeline.authenticate(ctx.request().getHeader("Authorization"));
    } catch (StatusRuntimeException e) {
      if (ctx.request().version() != HttpVersion.HTTP_2) {
        // HTTP/1.1 would read the rest of the body to find the next request. (An HTTP/2 stream
        // ends with its answer and its flow-control window bounds what the caller can still send.)
        ctx.response().putHeader("Connection", "close");
        ctx.response().endHandler(v -> ctx.request().connection().close());
      }
      sendError(ctx, e);
      return;
    }
    ctx.put(TENANT, tenant);
    ctx.next();
  }

  private void generate(RoutingContext ctx, Endpoint endpoint) {
    TenantInfo tenant = ctx.get(TENANT);
    Buffer raw = ctx.body().buffer();
    JsonNode body;
    String parseError = null;
    try {
      body = raw == null ? null : json.mapper().readTree(raw.getBytes());
    } catch (IOException e) {
      body = null;
      parseError = e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.toString();
    }
    OpenAiRequests.Options options = OpenAiRequests.Options.of(body);
    String requestId = requestId(ctx.request().getHeader("X-Request-Id"));
    OpenAiJson.Head head =
        OpenAiJson.Head.of(endpoint, requestId, clock.millis() / 1000, options.model());
    OpenAiExchange exchange = new OpenAiExchange(ctx.response(), vertx, json, head, options);
    JsonNode parsed = body;
    String invalid = parseError;
    exchange.run(
        pipeline,
        tenant,
        () -> {
          if (invalid != null) {
            throw GatewayStatus.invalidArgument("body", "not valid JSON: " + invalid);
          }
          return OpenAiRequests.toGenerateRequest(endpoint, parsed, requestId);
        },
        settings.timeout().toNanos());
  }

  private void models(RoutingContext ctx) {
    try {
      var models = pipeline.listModels(ctx.request().getHeader("Authorization"));
      ctx.response()
          .putHeader("Content-Type", "application/json")
          .end(json.mapper().writeValueAsString(json.models(models, clock.millis() / 1000)));
    } catch (StatusRuntimeException e) {
      sendError(ctx, e);
    } catch (JsonProcessingException e) {
      ctx.fail(e);
    }
  }

  /** Answers a refusal that no pipeline request carries (no request id, no Retry-After). */
  private void sendError(RoutingContext ctx, StatusRuntimeException e) {
    OpenAiError error = OpenAiError.of(e);
    try {
      ctx.response()
          .setStatusCode(error.httpStatus())
          .putHeader("Content-Type", "application/json")
          .end(json.mapper().writeValueAsString(error.body(json.mapper())));
    } catch (JsonProcessingException x) {
      ctx.fail(x);
    }
  }

  /** The client's {@code X-Request-Id} when usable as a pipeline request id, else a new one. */
  static String requestId(String header) {
    if (header != null
        && !header.isEmpty()
        && header.length() <= 128
        && header.chars().allMatch(c -> c > ' ' && c <= '~')) {
      return header;
    }
    return UUID.randomUUID().toString();
  }
}
