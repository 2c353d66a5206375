package dev.flotilla.gateway.service;

import dev.flotilla.api.crd.Visibility;
import dev.flotilla.api.v1.AdapterInfo;
import dev.flotilla.api.v1.EmbedRequest;
import dev.flotilla.api.v1.GenerateRequest;
import dev.flotilla.api.v1.ListModelsResponse;
import dev.flotilla.api.v1.ModelInfo;
import dev.flotilla.api.v1.ResponseFormat;
import dev.flotilla.api.v1.SamplingParams;
import dev.flotilla.api.v1.ToolChoice;
import dev.flotilla.gateway.auth.ApiKeyAuthenticator;
import dev.flotilla.gateway.auth.TenantInfo;
import dev.flotilla.gateway.authz.Authorizer;
import dev.flotilla.gateway.limit.TenantLimiter;
import dev.flotilla.gateway.metrics.GatewayMetrics;
import dev.flotilla.gateway.route.WorkerRegistry;
import dev.flotilla.gateway.schedule.ModelScheduler;
import dev.flotilla.gateway.schedule.Schedulers;
import dev.flotilla.gateway.status.GatewayStatus;
import dev.flotilla.gateway.time.Ticker;
import dev.flotilla.gateway.tools.ToolCallSink;
import dev.flotilla.gateway.worker.WorkerClient;
import io.grpc.Deadline;
import io.grpc.StatusRuntimeException;
import java.time.Clock;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * One request's way through the gateway, as a chain of stages that each hand their result to the
 * next:
 *
 * <ol>
 *   <li><b>authenticate</b>: the API key names a tenant ({@link ApiKeyAuthenticator});
 *   <li><b>authorize</b>: the request is valid, and the tenant may use its model and adapter
 *       ({@link Authorizer});
 *   <li><b>admit</b>: the tenant is within its limits; the permit holds what the request reserves
 *       ({@link TenantLimiter});
 *   <li><b>queue</b>: the model's scheduler holds the request while the model is cold and queues it
 *       fairly among tenants ({@link ModelScheduler}, which sees it as a {@link ScheduledRequest});
 *   <li><b>route</b>: the scheduler picks a worker and dispatches the request there, which begins a
 *       {@link WorkerAttempt} on it ({@link RequestRun#routed});
 *   <li><b>stream</b>: the worker's tokens go to the client, and a failure before the first token
 *       tries another worker ({@link RequestRun}, {@link WorkerAttempt});
 *   <li><b>meter</b>: the request's one outcome is billed, counted and answered ({@link
 *       UsageMeter}).
 * </ol>
 *
 * <p>A request refused at any stage goes straight to the meter. Transport-neutral: the gRPC service
 * and the OpenAI HTTP surface both call {@link #start} and {@link #listModels}; they only translate
 * requests and responses.
 */
public final class GatewayPipeline {
  /** Settings that are not per tenant or per model. */
  public record Settings(String gatewayId, int defaultMaxTokens, int maxAttempts) {}

  private final ApiKeyAuthenticator authenticator;
  private final Authorizer authorizer;
  private final TenantLimiter limiter;
  private final Schedulers schedulers;
  private final WorkerRegistry registry;
  private final WorkerAccess workers;
  private final UsageMeter meter;
  private final GatewayMetrics metrics;
  private final Ticker ticker;
  private final int defaultMaxTokens;

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
    this.workers = new WorkerAccess(registry, workers, settings.maxAttempts());
    this.meter = new UsageMeter(usage, metrics, ticker, clock, settings.gatewayId());
    this.metrics = metrics;
    this.ticker = ticker;
    this.defaultMaxTokens = settings.defaultMaxTokens();
  }

  /**
   * Runs a request; every outcome reaches {@code sink}, once.
   *
   * @param request builds the request after authentication, so a caller with a bad key learns
   *     nothing about its request; a StatusRuntimeException it throws fails the request like a
   *     validation error (billed as failed, like every authenticated request)
   * @return the running request, so the transport can cancel it and resume it on readiness; null
   *     when it was refused before admission (the sink has the error)
   */
  public RunningRequest start(
      String authorization,
      Supplier<GenerateRequest> request,
      ResponseSink sink,
      Deadline deadline) {
    long arrived = ticker.nanos();
    TenantInfo tenant = authenticate(authorization, sink);
    if (tenant == null) {
      return null;
    }
    return start(tenant, arrived, request, sink, deadline);
  }

  /**
   * Runs a request of a caller already authenticated by {@link #authenticate(String)}; otherwise as
   * {@link #start(String, Supplier, ResponseSink, Deadline)}.
   */
  public RunningRequest start(
      TenantInfo tenant, Supplier<GenerateRequest> request, ResponseSink sink, Deadline deadline) {
    return start(tenant, ticker.nanos(), request, sink, deadline);
  }

  private RunningRequest start(
      TenantInfo tenant,
      long arrived,
      Supplier<GenerateRequest> request,
      ResponseSink sink,
      Deadline deadline) {
    RequestFacts facts = authorize(tenant, request, arrived, deadline, sink);
    if (facts == null) {
      return null;
    }
    sink = ToolCallSink.wrap(facts.request(), sink);
    TenantLimiter.Permit permit = admit(facts, sink);
    if (permit == null) {
      return null;
    }
    return queue(facts, permit, sink);
  }

  /**
   * Runs an embedding request through the same stages as generation (authorize, limits, fair queue,
   * routing with adapter affinity, one usage event); every outcome reaches {@code sink}, once,
   * after {@link ResponseSink#embeddings} when it succeeded.
   *
   * @return as {@link #start(String, Supplier, ResponseSink, Deadline)}
   */
  public RunningRequest embed(
      String authorization, Supplier<EmbedRequest> request, ResponseSink sink, Deadline deadline) {
    long arrived = ticker.nanos();
    TenantInfo tenant = authenticate(authorization, sink);
    if (tenant == null) {
      return null;
    }
    return embed(tenant, arrived, request, sink, deadline);
  }

  /** As {@link #embed(String, Supplier, ResponseSink, Deadline)}, for an authenticated caller. */
  public RunningRequest embed(
      TenantInfo tenant, Supplier<EmbedRequest> request, ResponseSink sink, Deadline deadline) {
    return embed(tenant, ticker.nanos(), request, sink, deadline);
  }

  private RunningRequest embed(
      TenantInfo tenant,
      long arrived,
      Supplier<EmbedRequest> build,
      ResponseSink sink,
      Deadline deadline) {
    EmbedRequest request = EmbedRequest.getDefaultInstance();
    RequestFacts facts;
    try {
      request = build.get();
      validateEmbed(request);
      Authorizer.Grant grant =
          authorizer.authorize(tenant, request.getModel(), request.getAdapter());
      facts = RequestFacts.ofEmbed(tenant, request, grant, arrived, deadline);
    } catch (StatusRuntimeException e) {
      meter.refused(
          RequestFacts.ofEmbed(tenant, request, null, arrived, deadline),
          e.getStatus().getCode().name().toLowerCase(Locale.ROOT),
          e,
          sink);
      return null;
    }
    TenantLimiter.Permit permit = admit(facts, sink);
    if (permit == null) {
      return null;
    }
    return queue(facts, permit, sink);
  }

  /**
   * The caller's tenant, for a transport that checks the key before it reads the request: the HTTP
   * surface, so that nobody without a key makes the gateway read or parse a body. A refusal counts
   * as the pipeline's own.
   *
   * @throws StatusRuntimeException UNAUTHENTICATED when the key is missing or unknown
   */
  public TenantInfo authenticate(String authorization) {
    try {
      return authenticator.authenticate(authorization);
    } catch (StatusRuntimeException e) {
      metrics.rejected("unauthenticated");
      throw e;
    }
  }

  /** The caller's tenant; null when the key is missing or unknown (answered, not billed). */
  private TenantInfo authenticate(String authorization, ResponseSink sink) {
    try {
      return authenticator.authenticate(authorization);
    } catch (StatusRuntimeException e) {
      meter.unauthenticated(e, sink);
      return null;
    }
  }

  /**
   * The request, valid and granted to the tenant; null when it is not (answered, billed as failed).
   */
  private RequestFacts authorize(
      TenantInfo tenant,
      Supplier<GenerateRequest> build,
      long arrived,
      Deadline deadline,
      ResponseSink sink) {
    GenerateRequest request = GenerateRequest.getDefaultInstance();
    try {
      request = build.get();
      validate(request);
      Authorizer.Grant grant =
          authorizer.authorize(tenant, request.getModel(), request.getAdapter());
      return RequestFacts.of(tenant, request, grant, arrived, deadline, defaultMaxTokens);
    } catch (StatusRuntimeException e) {
      meter.refused(
          RequestFacts.of(tenant, request, null, arrived, deadline, defaultMaxTokens),
          e.getStatus().getCode().name().toLowerCase(Locale.ROOT),
          e,
          sink);
      return null;
    }
  }

  /** The tenant's permit; null when the request is over a limit (answered, billed as failed). */
  private TenantLimiter.Permit admit(RequestFacts facts, ResponseSink sink) {
    TenantLimiter.Admission admission = limiter.tryAcquire(facts.tenant(), facts.reservedTokens());
    if (!admission.admitted()) {
      TenantLimiter.Rejection rejection = admission.rejection();
      meter.refused(
          facts, rejection.reason().name().toLowerCase(Locale.ROOT), rejection.toStatus(), sink);
      return null;
    }
    return admission.permit();
  }

  /** Hands the admitted request to its model's scheduler, which routes it now or later. */
  private RequestRun queue(RequestFacts facts, TenantLimiter.Permit permit, ResponseSink sink) {
    ModelScheduler scheduler = schedulers.forModel(facts.grant().model());
    RequestRun run =
        new RequestRun(
            facts,
            permit,
            sink,
            scheduler,
            workers,
            new RequestTally(ticker, metrics.model(facts.modelKey()), facts.arrived()),
            meter);
    run.queued(scheduler.submit(run.scheduled()));
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

  /** The worker's limits on stop sequences, checked here so a request fails before it is held. */
  static final int MAX_STOP_SEQUENCES = 16;

  static final int MAX_STOP_LENGTH = 256;

  /**
   * The worker's limit on inputs per Embed call, checked here so a request fails before it is held.
   */
  static final int MAX_EMBED_INPUTS = 2048;

  static void validateEmbed(EmbedRequest r) {
    if (r.getModel().isEmpty()) {
      throw GatewayStatus.invalidArgument("model", "must not be empty");
    }
    if (r.getInputsCount() == 0) {
      throw GatewayStatus.invalidArgument("input", "give at least one string or token id list");
    }
    if (r.getInputsCount() > MAX_EMBED_INPUTS) {
      throw GatewayStatus.invalidArgument("input", "at most " + MAX_EMBED_INPUTS + " inputs");
    }
    for (int i = 0; i < r.getInputsCount(); i++) {
      var input = r.getInputs(i);
      boolean empty =
          switch (input.getInputCase()) {
            case TEXT -> input.getText().isEmpty();
            case TOKEN_IDS -> input.getTokenIds().getIdsCount() == 0;
            case INPUT_NOT_SET -> true;
          };
      if (empty) {
        throw GatewayStatus.invalidArgument("input", "input " + i + " is empty");
      }
      if (input.hasTokenIds()) {
        for (int id : input.getTokenIds().getIdsList()) {
          if (id < 0) {
            throw GatewayStatus.invalidArgument("input", "token ids are >= 0");
          }
        }
      }
    }
    if (r.getDimensions() < 0) {
      throw GatewayStatus.invalidArgument("dimensions", "must be >= 0 (0 = the model's)");
    }
    if (r.getRequestId().length() > 128) {
      throw GatewayStatus.invalidArgument("request_id", "at most 128 characters");
    }
  }

  /** The most choices (sampling.n) one request may ask for. */
  static final int MAX_CHOICES = 16;

  /** As the worker's limits, so a request the gateway admits is one the worker takes. */
  static final int MAX_LOGIT_BIAS = 1024;

  static final int MAX_STOP_TOKEN_IDS = 64;
  static final int MAX_TOP_LOGPROBS = 20;

  static void validatePenalties(SamplingParams s) {
    if (!(s.getPresencePenalty() >= -2 && s.getPresencePenalty() <= 2)) {
      throw GatewayStatus.invalidArgument("sampling.presence_penalty", "must be in [-2, 2]");
    }
    if (!(s.getFrequencyPenalty() >= -2 && s.getFrequencyPenalty() <= 2)) {
      throw GatewayStatus.invalidArgument("sampling.frequency_penalty", "must be in [-2, 2]");
    }
    if (!(Float.isFinite(s.getRepetitionPenalty()) && s.getRepetitionPenalty() >= 0)) {
      throw GatewayStatus.invalidArgument(
          "sampling.repetition_penalty", "must be a finite number > 0 (0 = unset = 1)");
    }
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
        for (int id : r.getPromptTokenIds().getIdsList()) {
          if (id < 0) {
            throw GatewayStatus.invalidArgument("prompt_token_ids", "token ids are >= 0");
          }
        }
      }
      case CHAT -> {
        if (r.getChat().getMessagesJson().isEmpty()) {
          throw GatewayStatus.invalidArgument("chat.messages_json", "must not be empty");
        }
      }
      default ->
          throw GatewayStatus.invalidArgument("prompt", "give prompt, prompt_token_ids or chat");
    }
    var s = r.getSampling();
    // NaN fails every comparison and infinity passes ">= 0": finiteness is checked by name, here
    // and again by the worker, so neither reaches an engine step.
    if (!Float.isFinite(s.getTemperature()) || s.getTemperature() < 0) {
      throw GatewayStatus.invalidArgument("sampling.temperature", "must be a finite number >= 0");
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
    if (s.getN() < 0 || s.getN() > MAX_CHOICES) {
      throw GatewayStatus.invalidArgument(
          "sampling.n", "must be in 1.." + MAX_CHOICES + ", or 0 for 1");
    }
    boolean constrained =
        r.getResponseFormat().getType() != ResponseFormat.Type.TEXT
            || (r.hasChat()
                && !r.getChat().getToolsJson().isEmpty()
                && r.getToolChoice().getMode() != ToolChoice.Mode.NONE);
    if (s.getN() > 1 && constrained) {
      // A grammar's state, and the tool calls parsed from the text, follow one choice.
      throw GatewayStatus.invalidArgument(
          "sampling.n", "must be 1 with response_format or tools (unless tool_choice is none)");
    }
    // parallel_tool_calls false in auto mode takes one stop of the worker's for the call's end
    int maxStops = MAX_STOP_SEQUENCES - (ToolCallSink.endsAfterFirstCall(r) ? 1 : 0);
    if (s.getStopCount() > maxStops) {
      throw GatewayStatus.invalidArgument(
          "sampling.stop",
          "at most "
              + maxStops
              + " stop sequences"
              + (maxStops < MAX_STOP_SEQUENCES ? " with parallel_tool_calls false" : ""));
    }
    for (String stop : s.getStopList()) {
      if (stop.isEmpty() || stop.length() > MAX_STOP_LENGTH) {
        throw GatewayStatus.invalidArgument(
            "sampling.stop", "stop sequences have 1 to " + MAX_STOP_LENGTH + " characters");
      }
    }
    validatePenalties(s);
    if (s.getLogitBiasCount() > MAX_LOGIT_BIAS) {
      throw GatewayStatus.invalidArgument(
          "sampling.logit_bias", "at most " + MAX_LOGIT_BIAS + " entries");
    }
    for (var e : s.getLogitBiasMap().entrySet()) {
      if (e.getKey() < 0 || !(e.getValue() >= -100 && e.getValue() <= 100)) {
        throw GatewayStatus.invalidArgument(
            "sampling.logit_bias", "maps token ids >= 0 to values in [-100, 100]");
      }
    }
    if (s.getTopLogprobs() < 0 || s.getTopLogprobs() > MAX_TOP_LOGPROBS) {
      throw GatewayStatus.invalidArgument(
          "sampling.top_logprobs", "must be in [0, " + MAX_TOP_LOGPROBS + "]");
    }
    if (s.getTopLogprobs() > 0 && !r.getLogprobs()) {
      throw GatewayStatus.invalidArgument("sampling.top_logprobs", "needs logprobs: true");
    }
    if (s.getMinTokens() < 0 || (s.getMaxTokens() > 0 && s.getMinTokens() > s.getMaxTokens())) {
      throw GatewayStatus.invalidArgument(
          "sampling.min_tokens", "must be >= 0 and at most max_tokens");
    }
    if (s.getStopTokenIdsCount() > MAX_STOP_TOKEN_IDS) {
      throw GatewayStatus.invalidArgument(
          "sampling.stop_token_ids", "at most " + MAX_STOP_TOKEN_IDS + " token ids");
    }
    for (int id : s.getStopTokenIdsList()) {
      if (id < 0) {
        throw GatewayStatus.invalidArgument("sampling.stop_token_ids", "token ids are >= 0");
      }
    }
    if (r.getRequestId().length() > 128) {
      throw GatewayStatus.invalidArgument("request_id", "at most 128 characters");
    }
  }
}
