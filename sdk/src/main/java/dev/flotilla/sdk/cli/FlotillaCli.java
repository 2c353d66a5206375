package dev.flotilla.sdk.cli;

import dev.flotilla.sdk.FlotillaClient;
import dev.flotilla.sdk.FlotillaException;
import dev.flotilla.sdk.TlsConfig;
import io.grpc.StatusRuntimeException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The {@code flotilla generate} and {@code flotilla models} commands: a thin command line over
 * {@link FlotillaClient}. Run it with {@code java -jar sdk/target/flotilla-sdk-cli.jar}.
 *
 * <p>Exit status: 0 success, 1 the call failed (the message on stderr names the gRPC status), 2 the
 * command line is wrong.
 */
public final class FlotillaCli {
  static final String DEFAULT_TARGET = "localhost:9000";

  static final String USAGE =
      """
            usage: flotilla [connection options] <command> [options]

            commands:
              generate --model M [--adapter A] [--max-tokens N] [--temperature T] [--top-k K]
                       [--top-p P] [--seed S] [--stop STR]... "prompt"
                        stream a completion to stdout; usage and timings go to stderr
              models    list the models and adapters this API key may use

            connection options:
              --target HOST:PORT  gateway address (env FLOTILLA_TARGET, default localhost:9000)
              --api-key KEY       API key (env FLOTILLA_API_KEY)
              --plaintext, --tls  force plaintext or TLS (default: plaintext for localhost only)
              --ca-file PEM       trust these CA certificates instead of the system's
              --timeout SECONDS   deadline of the call, retries included (default 120)

            exit status: 0 success, 1 the call failed, 2 bad command line
            """;

  private static final Set<String> CONNECTION_OPTIONS =
      Set.of("target", "api-key", "ca-file", "timeout");
  private static final Set<String> FLAGS = Set.of("plaintext", "tls", "help");

  private FlotillaCli() {}

  /**
   * Runs the CLI and exits the JVM with its status.
   *
   * @param args the command line
   */
  public static void main(String[] args) {
    System.exit(run(args, System.out, System.err));
  }

  /**
   * Runs the CLI without exiting, reading the target and key defaults from the environment.
   *
   * @param args the command line
   * @param out where generated text and listings go
   * @param err where progress, usage and errors go
   * @return the exit status: 0 success, 1 the call failed, 2 bad command line
   */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    return run(args, out, err, System.getenv());
  }

  static int run(String[] args, PrintStream out, PrintStream err, Map<String, String> env) {
    try {
      Set<String> valueOptions = new HashSet<>(CONNECTION_OPTIONS);
      valueOptions.addAll(GenerateCommand.OPTIONS);
      ParsedArguments arguments = ParsedArguments.parse(args, valueOptions, FLAGS);
      List<String> words = arguments.positionals();
      if (arguments.has("help") || (words.size() == 1 && words.get(0).equals("help"))) {
        out.print(USAGE);
        return 0;
      }
      if (words.isEmpty()) {
        throw new UsageException("no command given");
      }
      CliCommand command = parseCommand(words.get(0), words.subList(1, words.size()), arguments);
      try (FlotillaClient client = connect(arguments, env)) {
        return command.run(client, out, err);
      }
    } catch (UsageException e) {
      err.println("error: " + e.getMessage());
      err.println();
      err.print(USAGE);
      return 2;
    } catch (FlotillaException e) {
      err.println("error: " + describe(e));
      return 1;
    }
  }

  /**
   * The status line, plus the local cause when there is one: for a gateway that cannot be reached
   * gRPC says only "io exception", while the cause says "Connection refused".
   */
  static String describe(FlotillaException failure) {
    Throwable root = failure;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    boolean local =
        root != failure && !(root instanceof StatusRuntimeException) && root.getMessage() != null;
    return failure.getMessage() + (local ? " (" + root.getMessage() + ")" : "");
  }

  private static CliCommand parseCommand(
      String name, List<String> operands, ParsedArguments arguments) throws UsageException {
    switch (name) {
      case "generate":
        return GenerateCommand.parse(arguments, operands);
      case "models":
        for (String option : arguments.given()) {
          if (GenerateCommand.OPTIONS.contains(option)) {
            throw new UsageException("--" + option + " is an option of generate, not models");
          }
        }
        if (!operands.isEmpty()) {
          throw new UsageException("models takes no arguments, got '" + operands.get(0) + "'");
        }
        return new ModelsCommand();
      default:
        throw new UsageException("unknown command '" + name + "'");
    }
  }

  private static FlotillaClient connect(ParsedArguments arguments, Map<String, String> env)
      throws UsageException {
    String target = firstOf(arguments.single("target"), env.get("FLOTILLA_TARGET"), DEFAULT_TARGET);
    String apiKey = firstOf(arguments.single("api-key"), env.get("FLOTILLA_API_KEY"), null);
    FlotillaClient.Builder builder =
        FlotillaClient.builder().target(target).tls(tlsConfig(arguments));
    if (apiKey != null) {
      builder.apiKey(apiKey);
    }
    Float timeoutSeconds = arguments.floatValue("timeout");
    if (timeoutSeconds != null) {
      if (!(timeoutSeconds > 0) || timeoutSeconds.isInfinite()) {
        throw new UsageException(
            "--timeout needs a positive number of seconds, got " + timeoutSeconds);
      }
      builder.deadline(Duration.ofMillis(Math.max(1, (long) (timeoutSeconds * 1000))));
    }
    try {
      return builder.build();
    } catch (UncheckedIOException unreadableCaFile) {
      throw new UsageException(unreadableCaFile.getMessage());
    }
  }

  private static TlsConfig tlsConfig(ParsedArguments arguments) throws UsageException {
    String caFile = arguments.single("ca-file");
    if (arguments.has("plaintext") && (arguments.has("tls") || caFile != null)) {
      throw new UsageException("--plaintext cannot be combined with --tls or --ca-file");
    }
    if (caFile != null) {
      return TlsConfig.trustedCertificates(Path.of(caFile));
    }
    if (arguments.has("plaintext")) {
      return TlsConfig.plaintext();
    }
    return arguments.has("tls") ? TlsConfig.systemTrust() : TlsConfig.auto();
  }

  private static String firstOf(String option, String environment, String fallback) {
    if (option != null) {
      return option;
    }
    return environment != null && !environment.isBlank() ? environment : fallback;
  }
}
