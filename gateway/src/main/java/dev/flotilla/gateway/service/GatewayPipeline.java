package dev.flotilla.gateway.service;

import dev.flotilla.api.crd.Visibility;
import dev.flotilla.api.v1.AdapterInfo;
import dev.flotilla.api.v1.GenerateRequest;
import dev.flotilla.api.v1.ListModelsResponse;
import dev.flotilla.api.v1.ModelInfo;
import dev.flotilla.gateway.auth.ApiKeyAuthenticator;
import dev.flotilla.gateway.auth.TenantInfo;
import dev.flotilla.gateway.authz.Authorizer;
import dev.flotilla.gateway.limit.TenantLimiter;
import dev.flotilla.gateway.metrics.GatewayMetrics;
import dev.flotilla.gateway.route.WorkerRegistry;
import dev.flotilla.gateway.schedule.Schedulers;
import dev.flotilla.gateway.status.GatewayStatus;
import dev.flotilla.gateway.time.Ticker;
import dev.flotilla.gateway.worker.WorkerClient;
import io.grpc.Deadline;
import io.grpc.StatusRuntimeException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.function.Supplier;

/**
 * One request's way through the gateway: authenticate, validate, authorise, limit, schedule (hold
 * while cold, fair queue, route), stream from a worker, meter. Transport-neutral: the gRPC service
 * and the OpenAI HTTP surface both call {@link #start} and {@link #listModels}; they only translate
 * requests and responses.
 */
public final class GatewayPipeline {
  /** Settings that are not per tenant or per model. */
  public record Settings(String gatewayId, int defaultMaxTokens, int maxAttempts) {}

  final ApiKeyAuthenticator authenticator;
  final Authorizer authorizer;
  final TenantLimiter limiter;
  final Schedulers schedulers;
  final WorkerRegistry registry;
  final WorkerClient workers;
  final UsageRecorder usage;
  final GatewayMetrics metrics;
  final Ticker ticker;
  final Clock clock;
  final Settings settings;

  public GatewayPipeline(
      ApiKeyAuthenticator authenticator,
      Authorizer authorizer,
      TenantLimiter limiter,
      Schedulers schedulers,
      WorkerRegistry registry,
      WorkerClient workers,
      UsageRecorder usage,
      GatewayMetrics metrics,
      Ticker ticker,
      Clock clock,
      Settings settings) {
    this.authenticator = authenticator;
    this.authorizer = authorizer;
    this.limiter = limiter;
    this.schedulers = schedulers;
    this.registry = registry;
    this.workers = workers;
    this.usage = usage;
    this.metrics = metrics;
    this.ticker = ticker;
    this.clock = clock;
    this.settings = settings;
  }

  /**
   * Runs a request; every outcome reaches {@code sink}, once.
   *
   * @param request builds the request after authentication, so a caller with a bad key learns
   *     nothing about its request; a StatusRuntimeException it throws fails the request like a
   *     validation error (billed as failed, like every authenticated request)
   * @return the running request, so the transport can cancel it and resume it on readiness; null
   *     when it failed before it was admitted (the sink has the error)
   */
  public RunningRequest start(
      String authorization,
      Supplier<GenerateRequest> request,
      ResponseSink sink,
      Deadline deadline) {
    long arrived = ticker.nanos();
    TenantInfo tenant;
    try {
      tenant = authenticator.authenticate(authorization);
    } catch (StatusRuntimeException e) {
      metrics.rejected("unauthenticated");
      sink.fail(e);
      return null;
    }
    GenerateRequest built;
    try {
      built = request.get();
    } catch (StatusRuntimeException e) {
      metrics.rejected(e.getStatus().getCode().name().toLowerCase());
      new RequestRun(this, tenant, GenerateRequest.getDefaultInstance(), sink, arrived, deadline)
          .failUnadmitted(e);
      return null;
    }
    return admit(tenant, built, sink, arrived, deadline);
  }

  private RequestRun admit(
      TenantInfo tenant,
      GenerateRequest request,
      ResponseSink sink,
      long arrived,
      Deadline deadline) {
    RequestRun run = new RequestRun(this, tenant, request, sink, arrived, deadline);
    try {
      validate(request);
      run.authorize(authorizer.authorize(tenant, request.getModel(), request.getAdapter()));
    } catch (StatusRuntimeException e) {
      metrics.rejected(e.getStatus().getCode().name().toLowerCase());
      run.failUnadmitted(e);
      return null;
    }
    TenantLimiter.Admission admission = limiter.tryAcquire(tenant, run.reservedTokens());
    if (!admission.admitted()) {
      metrics.rejected(admission.rejection().reason().name().toLowerCase());
      run.failUnadmitted(admission.rejection().toStatus());
      return null;
    }
    run.admitted(admission.permit());
    return run;
  }

  /** The models and adapters the caller may use. */
  public ListModelsResponse listModels(String authorization) {
    TenantInfo tenant = authenticator.authenticate(authorization);
    ListModelsResponse.Builder out = ListModelsResponse.newBuilder();
    for (Authorizer.ModelView v : authorizer.visibleTo(tenant)) {
      ModelInfo.Builder m =
          ModelInfo.newBuilder()
              .setName(v.model().key())
              .setMaxSequenceLength(v.model().maxSequenceLength())
              .setReadyReplicas(registry.readyCount(v.model().key()));
      v.adapters()
          .forEach(
              a ->
                  m.addAdapters(
                      AdapterInfo.newBuilder()
                          .setName(a.name())
                          .setRank(a.rank())
                          .setVisibility(
                              a.visibility() == Visibility.Public
                                  ? AdapterInfo.Visibility.PUBLIC
                                  : AdapterInfo.Visibility.PRIVATE)));
      out.addModels(m);
    }
    return out.build();
  }

  static void validate(GenerateRequest r) {
    switch (r.getInputCase()) {
      case PROMPT -> {
        if (r.getPrompt().isEmpty()) {
          throw GatewayStatus.invalidArgument("prompt", "must not be empty");
        }
      }
      case PROMPT_TOKEN_IDS -> {
        if (r.getPromptTokenIds().getIdsCount() == 0) {
          throw GatewayStatus.invalidArgument("prompt_token_ids", "must not be empty");
        }
      }
      default -> throw GatewayStatus.invalidArgument("prompt", "give prompt or prompt_token_ids");
    }
    var s = r.getSampling();
    if (s.getTemperature() < 0 || Float.isNaN(s.getTemperature())) {
      throw GatewayStatus.invalidArgument("sampling.temperature", "must be >= 0");
    }
    if (s.getTopK() < 0) {
      throw GatewayStatus.invalidArgument("sampling.top_k", "must be >= 0");
    }
    if (!(s.getTopP() >= 0 && s.getTopP() <= 1)) {
      throw GatewayStatus.invalidArgument("sampling.top_p", "must be in (0, 1], or 0 for 1");
    }
    if (s.getMaxTokens() < 0) {
      throw GatewayStatus.invalidArgument("sampling.max_tokens", "must be >= 0");
    }
    if (r.getRequestId().length() > 128) {
      throw GatewayStatus.invalidArgument("request_id", "at most 128 characters");
    }
  }

  /**
   * Prompt tokens before the worker has counted them: exact for token ids, else one token per four
   * bytes of UTF-8 (a common rule of thumb for BPE vocabularies). Settled exactly later.
   */
  static long estimatePromptTokens(GenerateRequest r) {
    if (r.hasPromptTokenIds()) {
      return r.getPromptTokenIds().getIdsCount();
    }
    return (r.getPrompt().getBytes(StandardCharsets.UTF_8).length + 3) / 4;
  }
}
