package dev.flotilla.sdk;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.UUID;

/**
 * What to generate: the model (and optional adapter), the prompt as text, token ids or a chat
 * conversation (with the tools the model may call), and how to sample. Immutable; build one with
 * {@link #builder()}.
 *
 * <p>Every request has a request id. When none is set, {@link Builder#build()} assigns a random
 * UUID, so the SDK's automatic retries of one request, and any retry of the same request object by
 * the caller, carry the same id and the gateway can recognise them as one logical request.
 */
public final class CompletionRequest {
  private final String model;
  private final String adapter;
  private final String prompt;
  private final List<Integer> promptTokenIds;
  private final float temperature;
  private final int topK;
  private final float topP;
  private final Long seed;
  private final int maxTokens;
  private final int n;
  private final List<String> stop;
  private final float presencePenalty;
  private final float frequencyPenalty;
  private final float repetitionPenalty;
  private final Map<Integer, Float> logitBias;
  private final int minTokens;
  private final List<Integer> stopTokenIds;
  private final int topLogprobs;
  private final String requestId;
  private final boolean reportProgress;
  private final boolean logprobs;
  private final Duration deadline;
  private final JsonFormat jsonFormat;
  private final List<ChatMessage> messages;
  private final List<Tool> tools;
  private final ToolChoice toolChoice;
  private final Boolean parallelToolCalls;

  private CompletionRequest(Builder builder) {
    this.model = builder.model;
    this.adapter = builder.adapter;
    this.prompt = builder.prompt;
    this.promptTokenIds =
        builder.promptTokenIds == null ? List.of() : List.copyOf(builder.promptTokenIds);
    this.temperature = builder.temperature;
    this.topK = builder.topK;
    this.topP = builder.topP;
    this.seed = builder.seed;
    this.maxTokens = builder.maxTokens;
    this.n = builder.n;
    this.stop = List.copyOf(builder.stop);
    this.presencePenalty = builder.presencePenalty;
    this.frequencyPenalty = builder.frequencyPenalty;
    this.repetitionPenalty = builder.repetitionPenalty;
    this.logitBias = Map.copyOf(builder.logitBias);
    this.minTokens = builder.minTokens;
    this.stopTokenIds = List.copyOf(builder.stopTokenIds);
    this.topLogprobs = builder.topLogprobs;
    this.requestId = builder.requestId != null ? builder.requestId : UUID.randomUUID().toString();
    this.reportProgress = builder.reportProgress;
    this.logprobs = builder.logprobs;
    this.deadline = builder.deadline;
    this.jsonFormat = builder.jsonFormat;
    this.messages = List.copyOf(builder.messages);
    this.tools = List.copyOf(builder.tools);
    this.toolChoice = builder.toolChoice;
    this.parallelToolCalls = builder.parallelToolCalls;
  }

  /**
   * Starts a new request.
   *
   * @return an empty builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * @return the base model's name
   */
  public String model() {
    return model;
  }

  /**
   * @return the LoRA adapter's name; empty for the base model alone
   */
  public String adapter() {
    return adapter;
  }

  /**
   * @return the text prompt, or empty when the prompt was given as token ids
   */
  public Optional<String> prompt() {
    return Optional.ofNullable(prompt);
  }

  /**
   * @return the pre-tokenized prompt; empty when the prompt was given as text
   */
  public List<Integer> promptTokenIds() {
    return promptTokenIds;
  }

  /**
   * @return the sampling temperature; 0 means greedy decoding
   */
  public float temperature() {
    return temperature;
  }

  /**
   * @return the top-k cut-off; 0 disables it
   */
  public int topK() {
    return topK;
  }

  /**
   * @return the nucleus-sampling mass; 0 means 1
   */
  public float topP() {
    return topP;
  }

  /**
   * @return the sampling seed, or empty for a fresh random seed
   */
  public OptionalLong seed() {
    return seed == null ? OptionalLong.empty() : OptionalLong.of(seed);
  }

  /**
   * @return the upper bound on generated tokens; 0 means the gateway's default
   */
  public int maxTokens() {
    return maxTokens;
  }

  /**
   * @return how many choices (independent completions of the prompt) to generate, 1 to 16
   */
  public int n() {
    return n;
  }

  /**
   * @return strings before whose first occurrence generation stops
   */
  public List<String> stop() {
    return stop;
  }

  /**
   * @return subtracted once from each token already generated; 0 is off
   */
  public float presencePenalty() {
    return presencePenalty;
  }

  /**
   * @return subtracted per time a token was generated; 0 is off
   */
  public float frequencyPenalty() {
    return frequencyPenalty;
  }

  /**
   * @return the repetition penalty over prompt and output; 1 is off
   */
  public float repetitionPenalty() {
    return repetitionPenalty;
  }

  /**
   * @return token id to the value added to its logit; -100 bans the token
   */
  public Map<Integer, Float> logitBias() {
    return logitBias;
  }

  /**
   * @return tokens generated before end-of-sequence or a stop token id may end generation
   */
  public int minTokens() {
    return minTokens;
  }

  /**
   * @return token ids after which generation ends
   */
  public List<Integer> stopTokenIds() {
    return stopTokenIds;
  }

  /**
   * @return how many of the most likely tokens come back with each generated token
   */
  public int topLogprobs() {
    return topLogprobs;
  }

  /**
   * @return the request id, set by the caller or generated by {@link Builder#build()}
   */
  public String requestId() {
    return requestId;
  }

  /**
   * @return whether progress events are wanted while a cold model starts (streaming only)
   */
  public boolean reportProgress() {
    return reportProgress;
  }

  /**
   * @return whether the log-probability of each generated token is wanted
   */
  public boolean logprobs() {
    return logprobs;
  }

  /**
   * @return this request's deadline, or empty to use the client's default
   */
  public Optional<Duration> deadline() {
    return Optional.ofNullable(deadline);
  }

  /**
   * @return the JSON shape the output must have, or empty for free text
   */
  public Optional<JsonFormat> jsonFormat() {
    return Optional.ofNullable(jsonFormat);
  }

  /**
   * @return the conversation, rendered by the model's chat template; empty for a text or token
   *     prompt
   */
  public List<ChatMessage> messages() {
    return messages;
  }

  /**
   * @return the functions the model may call (chat only)
   */
  public List<Tool> tools() {
    return tools;
  }

  /**
   * @return whether the model may, must or must not call a tool
   */
  public ToolChoice toolChoice() {
    return toolChoice;
  }

  /**
   * @return whether the output may hold several tool calls; empty for the server's default (yes)
   */
  public Optional<Boolean> parallelToolCalls() {
    return Optional.ofNullable(parallelToolCalls);
  }

  @Override
  public String toString() {
    // The prompt may be long or private; the id and model are what identify a request in logs.
    return "CompletionRequest{requestId="
        + requestId
        + ", model="
        + model
        + (adapter.isEmpty() ? "" : ", adapter=" + adapter)
        + '}';
  }

  /** Builds a {@link CompletionRequest}; {@code model} and one kind of prompt are required. */
  public static final class Builder {
    private String model;
    private String adapter = "";
    private String prompt;
    private List<Integer> promptTokenIds;
    private float temperature;
    private int topK;
    private float topP;
    private Long seed;
    private int maxTokens;
    private int n = 1;
    private final List<String> stop = new ArrayList<>();
    private float presencePenalty;
    private float frequencyPenalty;
    private float repetitionPenalty = 1f;
    private final Map<Integer, Float> logitBias = new HashMap<>();
    private int minTokens;
    private final List<Integer> stopTokenIds = new ArrayList<>();
    private int topLogprobs;
    private String requestId;
    private boolean reportProgress;
    private boolean logprobs;
    private Duration deadline;
    private JsonFormat jsonFormat;
    private final List<ChatMessage> messages = new ArrayList<>();
    private final List<Tool> tools = new ArrayList<>();
    private ToolChoice toolChoice = ToolChoice.auto();
    private Boolean parallelToolCalls;

    private Builder() {}

    /**
     * Sets the base model.
     *
     * @param model the model's name, as {@link FlotillaClient#listModels()} reports it
     * @return this builder
     */
    public Builder model(String model) {
      this.model = Objects.requireNonNull(model, "model");
      return this;
    }

    /**
     * Sets the LoRA adapter to apply on the base model.
     *
     * @param adapter the adapter's name; empty for the base model alone
     * @return this builder
     */
    public Builder adapter(String adapter) {
      this.adapter = Objects.requireNonNull(adapter, "adapter");
      return this;
    }

    /**
     * Sets a text prompt, replacing any token-id prompt.
     *
     * @param prompt the text, tokenized by the model's tokenizer
     * @return this builder
     */
    public Builder prompt(String prompt) {
      this.prompt = Objects.requireNonNull(prompt, "prompt");
      this.promptTokenIds = null;
      return this;
    }

    /**
     * Sets a pre-tokenized prompt, replacing any text prompt.
     *
     * @param tokenIds the token ids
     * @return this builder
     */
    public Builder promptTokenIds(List<Integer> tokenIds) {
      this.promptTokenIds = List.copyOf(tokenIds);
      this.prompt = null;
      return this;
    }

    /**
     * Sets the sampling temperature.
     *
     * @param temperature at least 0; 0 selects greedy decoding
     * @return this builder
     */
    public Builder temperature(float temperature) {
      this.temperature = temperature;
      return this;
    }

    /**
     * Keeps only the {@code topK} most likely tokens when sampling.
     *
     * @param topK at least 0; 0 disables the cut-off
     * @return this builder
     */
    public Builder topK(int topK) {
      this.topK = topK;
      return this;
    }

    /**
     * Samples from the smallest set of tokens whose probabilities add up to {@code topP}.
     *
     * @param topP in [0, 1]; 0 means 1
     * @return this builder
     */
    public Builder topP(float topP) {
      this.topP = topP;
      return this;
    }

    /**
     * Makes sampling reproducible.
     *
     * @param seed any value, read by the server as unsigned
     * @return this builder
     */
    public Builder seed(long seed) {
      this.seed = seed;
      return this;
    }

    /**
     * Bounds the number of generated tokens.
     *
     * @param maxTokens at least 0; 0 means the gateway's default
     * @return this builder
     */
    public Builder maxTokens(int maxTokens) {
      this.maxTokens = maxTokens;
      return this;
    }

    /**
     * Asks for several choices of one prompt. The prompt is processed once and shared; with a
     * {@link #seed(long)}, choice i samples with a seed derived from it and i, so the same request
     * gives the same choices. Each choice's tokens arrive tagged with its index ({@link
     * StreamEvent.Tokens#index()}, {@link CompletionResult#choices()}).
     *
     * @param n 1 to 16 (default 1)
     * @return this builder
     */
    public Builder n(int n) {
      this.n = n;
      return this;
    }

    /**
     * Adds a stop sequence; generation stops before its first occurrence. May be called repeatedly.
     *
     * @param stopSequence a non-empty string
     * @return this builder
     */
    public Builder stop(String stopSequence) {
      this.stop.add(Objects.requireNonNull(stopSequence, "stopSequence"));
      return this;
    }

    /**
     * Replaces the stop sequences.
     *
     * @param stopSequences non-empty strings
     * @return this builder
     */
    public Builder stop(List<String> stopSequences) {
      this.stop.clear();
      stopSequences.forEach(this::stop);
      return this;
    }

    /**
     * Discourages tokens already generated: subtracts the penalty once from each one's logit.
     *
     * @param presencePenalty in [-2, 2]; 0 is off, negative values encourage repeats
     * @return this builder
     */
    public Builder presencePenalty(float presencePenalty) {
      this.presencePenalty = presencePenalty;
      return this;
    }

    /**
     * Discourages frequent tokens: subtracts the penalty from a token's logit per time it was
     * generated.
     *
     * @param frequencyPenalty in [-2, 2]; 0 is off
     * @return this builder
     */
    public Builder frequencyPenalty(float frequencyPenalty) {
      this.frequencyPenalty = frequencyPenalty;
      return this;
    }

    /**
     * Penalises tokens of the prompt and the output: their positive logits are divided by it,
     * negative ones multiplied.
     *
     * @param repetitionPenalty greater than 0; 1 is off, above 1 discourages repeats
     * @return this builder
     */
    public Builder repetitionPenalty(float repetitionPenalty) {
      this.repetitionPenalty = repetitionPenalty;
      return this;
    }

    /**
     * Adds {@code bias} to a token's logit before sampling. May be called repeatedly.
     *
     * @param tokenId a token id of the model's vocabulary
     * @param bias in [-100, 100]; -100 bans the token
     * @return this builder
     */
    public Builder logitBias(int tokenId, float bias) {
      this.logitBias.put(tokenId, bias);
      return this;
    }

    /**
     * Keeps generation going for at least this many tokens: end-of-sequence and stop token ids
     * cannot be drawn before.
     *
     * @param minTokens at least 0, at most maxTokens
     * @return this builder
     */
    public Builder minTokens(int minTokens) {
      this.minTokens = minTokens;
      return this;
    }

    /**
     * Ends generation after this token id (finish reason {@link FinishReason#STOP}). May be called
     * repeatedly.
     *
     * @param tokenId a token id of the model's vocabulary
     * @return this builder
     */
    public Builder stopTokenId(int tokenId) {
      this.stopTokenIds.add(tokenId);
      return this;
    }

    /**
     * Asks for the {@code topLogprobs} most likely tokens with each generated token; turns on
     * {@link #logprobs(boolean)} when above 0.
     *
     * @param topLogprobs 0 to 20
     * @return this builder
     */
    public Builder topLogprobs(int topLogprobs) {
      this.topLogprobs = topLogprobs;
      if (topLogprobs > 0) {
        this.logprobs = true;
      }
      return this;
    }

    /**
     * Sets the idempotency and tracing key; a random UUID is used when unset.
     *
     * @param requestId a non-empty id
     * @return this builder
     */
    public Builder requestId(String requestId) {
      this.requestId = Objects.requireNonNull(requestId, "requestId");
      return this;
    }

    /**
     * Asks for {@link StreamEvent.Progress} events while the model scales up from zero.
     *
     * @param reportProgress whether to report progress
     * @return this builder
     */
    public Builder reportProgress(boolean reportProgress) {
      this.reportProgress = reportProgress;
      return this;
    }

    /**
     * Asks for the log-probability of each generated token.
     *
     * @param logprobs whether to return log-probabilities
     * @return this builder
     */
    public Builder logprobs(boolean logprobs) {
      this.logprobs = logprobs;
      return this;
    }

    /**
     * Sets how long this request may take, retries included, overriding the client's default.
     *
     * @param deadline a positive duration
     * @return this builder
     */
    public Builder deadline(Duration deadline) {
      this.deadline = Objects.requireNonNull(deadline, "deadline");
      return this;
    }

    /**
     * Constrains the output to JSON of this shape (structured output).
     *
     * @param format {@link JsonFormat#anyObject()} or {@link JsonFormat#schema(String, String)}
     * @return this builder
     */
    public Builder jsonFormat(JsonFormat format) {
      this.jsonFormat = Objects.requireNonNull(format, "format");
      return this;
    }

    /**
     * Sets the prompt to a conversation, which the model's chat template renders (ending with the
     * start of the assistant's turn).
     *
     * @param messages the conversation, oldest first
     * @return this builder
     */
    public Builder messages(List<ChatMessage> messages) {
      this.messages.clear();
      this.messages.addAll(messages);
      return this;
    }

    /**
     * Adds a message to the conversation.
     *
     * @param message the next message
     * @return this builder
     */
    public Builder message(ChatMessage message) {
      this.messages.add(Objects.requireNonNull(message, "message"));
      return this;
    }

    /**
     * Offers the model a function to call (chat only); calls come back as {@code toolCalls}.
     *
     * @param tool the function
     * @return this builder
     */
    public Builder tool(Tool tool) {
      this.tools.add(Objects.requireNonNull(tool, "tool"));
      return this;
    }

    /**
     * Sets whether the model may, must or must not call a tool ({@link ToolChoice#auto()} unless
     * set).
     *
     * @param choice the choice
     * @return this builder
     */
    public Builder toolChoice(ToolChoice choice) {
      this.toolChoice = Objects.requireNonNull(choice, "choice");
      return this;
    }

    /**
     * Sets whether the output may hold several tool calls (the server's default is yes): with
     * false, {@link ToolChoice#required()} gives exactly one call, and {@link ToolChoice#auto()}
     * ends the output after the first.
     *
     * @param parallel whether several calls are allowed
     * @return this builder
     */
    public Builder parallelToolCalls(boolean parallel) {
      this.parallelToolCalls = parallel;
      return this;
    }

    /**
     * Checks the fields and builds the request.
     *
     * @return the immutable request
     * @throws IllegalArgumentException when a field is missing or out of range
     */
    public CompletionRequest build() {
      require(model != null && !model.isBlank(), "model is required");
      int prompts = (prompt != null ? 1 : 0) + (promptTokenIds != null ? 1 : 0);
      prompts += messages.isEmpty() ? 0 : 1;
      require(prompts == 1, "give one of a prompt, prompt token ids or chat messages");
      require(
          messages.isEmpty() ? tools.isEmpty() : true, "tools go with chat messages, not a prompt");
      require(
          tools.isEmpty() ? toolChoice.mode() == ToolChoice.Mode.AUTO : true,
          "a tool choice needs tools");
      require(
          toolChoice.mode() != ToolChoice.Mode.FUNCTION
              || tools.stream().anyMatch(t -> t.name().equals(toolChoice.functionName())),
          "the tool choice names " + toolChoice.functionName() + ", which the tools do not list");
      require(
          temperature >= 0 && Float.isFinite(temperature),
          "temperature must be >= 0, was " + temperature);
      require(topK >= 0, "topK must be >= 0, was " + topK);
      require(topP >= 0 && topP <= 1, "topP must be in [0, 1], was " + topP);
      require(maxTokens >= 0, "maxTokens must be >= 0, was " + maxTokens);
      require(n >= 1 && n <= 16, "n must be in 1..16, was " + n);
      require(stop.stream().noneMatch(String::isEmpty), "stop sequences must not be empty");
      require(
          presencePenalty >= -2 && presencePenalty <= 2,
          "presencePenalty must be in [-2, 2], was " + presencePenalty);
      require(
          frequencyPenalty >= -2 && frequencyPenalty <= 2,
          "frequencyPenalty must be in [-2, 2], was " + frequencyPenalty);
      require(
          repetitionPenalty > 0 && Float.isFinite(repetitionPenalty),
          "repetitionPenalty must be > 0, was " + repetitionPenalty);
      logitBias.forEach(
          (token, bias) ->
              require(
                  token >= 0 && bias >= -100 && bias <= 100,
                  "logitBias maps token ids >= 0 to values in [-100, 100], was "
                      + token
                      + "="
                      + bias));
      require(
          minTokens >= 0 && (maxTokens == 0 || minTokens <= maxTokens),
          "minTokens must be in [0, maxTokens], was " + minTokens);
      require(stopTokenIds.stream().allMatch(id -> id >= 0), "stop token ids must be >= 0");
      require(
          topLogprobs >= 0 && topLogprobs <= 20,
          "topLogprobs must be in [0, 20], was " + topLogprobs);
      require(requestId == null || !requestId.isBlank(), "requestId must not be blank");
      require(
          deadline == null || (!deadline.isNegative() && !deadline.isZero()),
          "deadline must be positive, was " + deadline);
      return new CompletionRequest(this);
    }

    private static void require(boolean condition, String message) {
      if (!condition) {
        throw new IllegalArgumentException(message);
      }
    }
  }
}
