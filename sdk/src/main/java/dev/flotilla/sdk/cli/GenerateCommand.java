package dev.flotilla.sdk.cli;

import dev.flotilla.sdk.CompletionRequest;
import dev.flotilla.sdk.FlotillaClient;
import dev.flotilla.sdk.StreamEvent;
import dev.flotilla.sdk.TokenStream;
import java.io.PrintStream;
import java.util.List;
import java.util.Set;

/** {@code generate}: streams a completion's text to stdout, progress and usage to stderr. */
final class GenerateCommand implements CliCommand {
  static final Set<String> OPTIONS =
      Set.of("model", "adapter", "max-tokens", "temperature", "top-k", "top-p", "seed", "stop");

  private final CompletionRequest request;

  private GenerateCommand(CompletionRequest request) {
    this.request = request;
  }

  /**
   * @param prompt the positional words after {@code generate}, joined by spaces
   */
  static GenerateCommand parse(ParsedArguments arguments, List<String> prompt)
      throws UsageException {
    String model = arguments.single("model");
    if (model == null) {
      throw new UsageException("generate needs --model");
    }
    if (prompt.isEmpty()) {
      throw new UsageException("generate needs a prompt");
    }
    CompletionRequest.Builder builder =
        CompletionRequest.builder()
            .model(model)
            .prompt(String.join(" ", prompt))
            .stop(arguments.all("stop"))
            // A terminal user waiting on a cold model wants to see why nothing happens yet.
            .reportProgress(true);
    String adapter = arguments.single("adapter");
    if (adapter != null) {
      builder.adapter(adapter);
    }
    Integer maxTokens = arguments.intValue("max-tokens");
    if (maxTokens != null) {
      builder.maxTokens(maxTokens);
    }
    Float temperature = arguments.floatValue("temperature");
    if (temperature != null) {
      builder.temperature(temperature);
    }
    Integer topK = arguments.intValue("top-k");
    if (topK != null) {
      builder.topK(topK);
    }
    Float topP = arguments.floatValue("top-p");
    if (topP != null) {
      builder.topP(topP);
    }
    Long seed = arguments.longValue("seed");
    if (seed != null) {
      builder.seed(seed);
    }
    try {
      return new GenerateCommand(builder.build());
    } catch (IllegalArgumentException e) {
      throw new UsageException(e.getMessage());
    }
  }

  CompletionRequest request() {
    return request;
  }

  @Override
  public int run(FlotillaClient client, PrintStream out, PrintStream err) {
    boolean printedText = false;
    StreamEvent.Finished finished = null;
    try (TokenStream stream = client.generate(request)) {
      for (StreamEvent event : stream) {
        if (event instanceof StreamEvent.Tokens tokens) {
          out.print(tokens.text());
          out.flush();
          printedText = true;
        } else if (event instanceof StreamEvent.Progress progress) {
          err.printf(
              "waiting: %s, %d ms so far, %d ahead%n",
              progress.phase(), progress.waited().toMillis(), progress.position());
        } else if (event instanceof StreamEvent.Finished last) {
          finished = last;
        }
      }
    } finally {
      // End the partial line even when the stream failed, so the error starts on its own line.
      if (printedText) {
        out.println();
        out.flush();
      }
    }
    if (finished != null) {
      err.printf(
          "finish=%s prompt_tokens=%d completion_tokens=%d total_tokens=%d ttft_ms=%d total_ms=%d"
              + " request_id=%s%n",
          finished.finishReason(),
          finished.usage().promptTokens(),
          finished.usage().completionTokens(),
          finished.usage().totalTokens(),
          finished.timings().timeToFirstToken().toMillis(),
          finished.timings().total().toMillis(),
          finished.requestId());
    }
    return 0;
  }
}
