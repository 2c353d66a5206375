package dev.flotilla.sdk;

import dev.flotilla.api.v1.EmbedRequest;
import dev.flotilla.api.v1.GenerateRequest;
import dev.flotilla.api.v1.InferenceGrpc;
import dev.flotilla.api.v1.ListModelsRequest;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.Deadline;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * A client of a Flotilla gateway's {@code flotilla.v1.Inference} API.
 *
 * <pre>{@code
 * try (FlotillaClient client = FlotillaClient.builder()
 *         .target("flotilla.example.com:443")
 *         .apiKey(System.getenv("FLOTILLA_API_KEY"))
 *         .build()) {
 *     CompletionResult result = client.complete(CompletionRequest.builder()
 *             .model("llama-3-8b").adapter("support-bot").prompt("Hello").maxTokens(64).build());
 *     System.out.println(result.text());
 * }
 * }</pre>
 *
 * <p>Every call has a deadline, the request's own or the client's default, which bounds all its
 * attempts together. Failures are retried as the {@link RetryPolicy} says, then thrown as a {@link
 * FlotillaException} subclass. Thread-safe; one client per gateway is enough for an application.
 * Close it to release its connection.
 */
public final class FlotillaClient implements AutoCloseable {
  private final ManagedChannel channel;
  private final boolean ownsChannel;
  private final InferenceGrpc.InferenceBlockingStub blockingStub;
  private final InferenceGrpc.InferenceStub asyncStub;
  private final Duration defaultDeadline;
  private final RetryPlanner retryPlanner;
  private final ScheduledExecutorService retryScheduler;

  private FlotillaClient(Builder builder) {
    this.ownsChannel = builder.channel == null;
    this.channel =
        ownsChannel
            ? Grpc.newChannelBuilder(builder.target, builder.tls.credentialsFor(builder.target))
                .userAgent("flotilla-sdk-java")
                .build()
            : builder.channel;
    Channel calls =
        builder.apiKey == null
            ? channel
            : ClientInterceptors.intercept(channel, new ApiKeyInterceptor(builder.apiKey));
    this.blockingStub = InferenceGrpc.newBlockingStub(calls);
    this.asyncStub = InferenceGrpc.newStub(calls);
    this.defaultDeadline = builder.deadline;
    this.retryPlanner =
        new RetryPlanner(builder.retryPolicy, () -> ThreadLocalRandom.current().nextDouble());
    this.retryScheduler = newRetryScheduler();
  }

  /**
   * Starts configuring a client.
   *
   * @return a builder; {@link Builder#target(String)} or {@link Builder#channel(ManagedChannel)} is
   *     required
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Generates a whole completion and returns it at once.
   *
   * @param request what to generate
   * @return the completion
   * @throws FlotillaException when the call fails, after any retries
   */
  public CompletionResult complete(CompletionRequest request) {
    GenerateRequest proto = ProtoMapping.generateRequest(request);
    return ProtoMapping.completionResult(
        callWithRetries(
            request.requestId(),
            deadlineOf(request),
            deadline -> blockingStub.withDeadline(deadline).complete(proto)));
  }

  /**
   * Starts a streamed generation read by blocking iteration. Close the returned stream, best with
   * try-with-resources, to cancel the call when stopping early.
   *
   * @param request what to generate
   * @return the running stream; failures are thrown while iterating it
   */
  public TokenStream generate(CompletionRequest request) {
    return new TokenStream(generateCall(request), request.requestId());
  }

  /**
   * A streamed generation as a {@link Flow.Publisher}. Each subscription starts its own call; the
   * server sends no more events than the subscriber has requested, and cancelling the subscription
   * cancels the call. Every subscription reuses the request's id, so subscribe once per request.
   *
   * @param request what to generate
   * @return a cold publisher of the generation's events; failures arrive as a {@link
   *     FlotillaException}
   */
  public Flow.Publisher<StreamEvent> generatePublisher(CompletionRequest request) {
    return new GeneratePublisher(generateCall(request));
  }

  /**
   * Embeds each input with an embedding model: one vector per input, in order.
   *
   * @param request what to embed
   * @return the vectors and the tokens they used
   * @throws FlotillaException when the call fails, after any retries ({@link
   *     InvalidRequestException} for a model that does not embed or a wrong {@code dimensions})
   */
  public EmbeddingResult embed(EmbeddingRequest request) {
    EmbedRequest proto = ProtoMapping.embedRequest(request);
    Deadline deadline =
        Deadline.after(request.deadline().orElse(defaultDeadline).toNanos(), TimeUnit.NANOSECONDS);
    return ProtoMapping.embeddingResult(
        callWithRetries(
            request.requestId(),
            deadline,
            attemptDeadline -> blockingStub.withDeadline(attemptDeadline).embed(proto)));
  }

  /**
   * Lists the models and adapters the caller's tenant may use.
   *
   * @return the models, each with its adapters
   * @throws FlotillaException when the call fails, after any retries
   */
  public List<ModelDescription> listModels() {
    Deadline deadline = Deadline.after(defaultDeadline.toNanos(), TimeUnit.NANOSECONDS);
    return ProtoMapping.models(
        callWithRetries(
            null,
            deadline,
            attemptDeadline ->
                blockingStub
                    .withDeadline(attemptDeadline)
                    .listModels(ListModelsRequest.getDefaultInstance())));
  }

  /**
   * Stops the retry timer and, when the client created its own channel, shuts the channel down,
   * waiting up to five seconds for running calls. A channel passed to the builder stays open: its
   * owner closes it.
   */
  @Override
  public void close() {
    retryScheduler.shutdownNow();
    if (!ownsChannel) {
      return;
    }
    channel.shutdown();
    try {
      if (!channel.awaitTermination(5, TimeUnit.SECONDS)) {
        channel.shutdownNow();
      }
    } catch (InterruptedException e) {
      channel.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }

  private Function<GenerateCall.Listener, GenerateCall> generateCall(CompletionRequest request) {
    GenerateRequest proto = ProtoMapping.generateRequest(request);
    // The deadline starts when the call does, not when the publisher is created.
    return listener ->
        new GenerateCall(
            asyncStub, proto, deadlineOf(request), retryPlanner, retryScheduler, listener);
  }

  private Deadline deadlineOf(CompletionRequest request) {
    return Deadline.after(
        request.deadline().orElse(defaultDeadline).toNanos(), TimeUnit.NANOSECONDS);
  }

  private <T> T callWithRetries(
      String requestId, Deadline deadline, Function<Deadline, T> attempt) {
    for (int attempts = 1; ; attempts++) {
      FlotillaException failure;
      try {
        return attempt.apply(deadline);
      } catch (StatusRuntimeException e) {
        failure = StatusErrors.toException(e, requestId);
      }
      Duration timeLeft =
          Duration.ofNanos(Math.max(0, deadline.timeRemaining(TimeUnit.NANOSECONDS)));
      Optional<Duration> delay = retryPlanner.delayBeforeRetry(attempts, failure, timeLeft);
      if (delay.isEmpty()) {
        throw failure;
      }
      try {
        TimeUnit.NANOSECONDS.sleep(delay.get().toNanos());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new UnexpectedStatusException(
            Status.Code.CANCELLED, "interrupted while waiting to retry", requestId, e);
      }
    }
  }

  private static ScheduledExecutorService newRetryScheduler() {
    ScheduledThreadPoolExecutor scheduler =
        new ScheduledThreadPoolExecutor(
            1,
            task -> {
              Thread thread = Executors.defaultThreadFactory().newThread(task);
              thread.setName("flotilla-sdk-retry");
              thread.setDaemon(true); // a forgotten close() must not keep the JVM alive
              return thread;
            });
    scheduler.setRemoveOnCancelPolicy(true);
    return scheduler;
  }

  /** Configures a {@link FlotillaClient}. */
  public static final class Builder {
    private String target;
    private String apiKey;
    private TlsConfig tls = TlsConfig.auto();
    private Duration deadline = Duration.ofMinutes(2);
    private RetryPolicy retryPolicy = RetryPolicy.defaults();
    private ManagedChannel channel;

    private Builder() {}

    /**
     * Sets the gateway's address.
     *
     * @param target {@code host:port}, or any target gRPC understands such as {@code
     *     dns:///host:port}
     * @return this builder
     */
    public Builder target(String target) {
      this.target = Objects.requireNonNull(target, "target");
      return this;
    }

    /**
     * Sets the API key, sent as {@code authorization: Bearer <key>} on every call.
     *
     * @param apiKey the tenant's API key
     * @return this builder
     */
    public Builder apiKey(String apiKey) {
      this.apiKey = Objects.requireNonNull(apiKey, "apiKey");
      return this;
    }

    /**
     * Turns TLS on (system trust store) or off (plaintext).
     *
     * @param enabled whether to use TLS
     * @return this builder
     */
    public Builder tls(boolean enabled) {
      this.tls = enabled ? TlsConfig.systemTrust() : TlsConfig.plaintext();
      return this;
    }

    /**
     * Sets how the connection is secured; the default is {@link TlsConfig#auto()}.
     *
     * @param tls the TLS configuration
     * @return this builder
     */
    public Builder tls(TlsConfig tls) {
      this.tls = Objects.requireNonNull(tls, "tls");
      return this;
    }

    /**
     * Sets the deadline of calls whose request sets none; two minutes by default.
     *
     * @param deadline a positive duration, covering all attempts of a call
     * @return this builder
     */
    public Builder deadline(Duration deadline) {
      Objects.requireNonNull(deadline, "deadline");
      if (deadline.isNegative() || deadline.isZero()) {
        throw new IllegalArgumentException("deadline must be positive, was " + deadline);
      }
      this.deadline = deadline;
      return this;
    }

    /**
     * Sets when failed calls are retried; {@link RetryPolicy#defaults()} by default.
     *
     * @param retryPolicy the policy
     * @return this builder
     */
    public Builder retryPolicy(RetryPolicy retryPolicy) {
      this.retryPolicy = Objects.requireNonNull(retryPolicy, "retryPolicy");
      return this;
    }

    /**
     * Uses an existing channel instead of creating one from the target and TLS settings, for tests
     * (an in-process channel) or a channel configured by the application. The client does not shut
     * it down.
     *
     * @param channel the channel to send calls on
     * @return this builder
     */
    public Builder channel(ManagedChannel channel) {
      this.channel = Objects.requireNonNull(channel, "channel");
      return this;
    }

    /**
     * Creates the client.
     *
     * @return the client
     * @throws IllegalStateException when neither or both of a target and a channel were given
     */
    public FlotillaClient build() {
      if ((target == null) == (channel == null)) {
        throw new IllegalStateException("set exactly one of target(...) and channel(...)");
      }
      return new FlotillaClient(this);
    }
  }
}
