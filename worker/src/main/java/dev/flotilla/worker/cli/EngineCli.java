package dev.flotilla.worker.cli;

import dev.flotilla.worker.engine.Adapter;
import dev.flotilla.worker.engine.Batch;
import dev.flotilla.worker.engine.ContextParams;
import dev.flotilla.worker.engine.Devices;
import dev.flotilla.worker.engine.EngineContext;
import dev.flotilla.worker.engine.EngineException;
import dev.flotilla.worker.engine.KvDtype;
import dev.flotilla.worker.engine.Model;
import dev.flotilla.worker.engine.ModelInfo;
import dev.flotilla.worker.engine.NativeEngine;
import dev.flotilla.worker.engine.Sampler;
import dev.flotilla.worker.engine.SamplingParams;
import dev.flotilla.worker.engine.WeightDtype;
import dev.flotilla.worker.runtime.GenerationConfig;
import dev.flotilla.worker.text.TextTokenizer;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Collectors;

/**
 * The engine without a server, like llama.cpp's {@code llama-simple}: loads a model directory (and
 * optionally one adapter), prefills a prompt, generates, prints the text and token ids. {@code
 * --logits-out FILE} writes the logits of the last prompt position as little-endian float32 in
 * vocabulary order, for outside tools to check. Run as {@code ./flotilla engine ...}.
 */
public final class EngineCli {
  static final String USAGE =
      """
            Usage: flotilla engine --model DIR [--adapter DIR] (--prompt TEXT | --prompt-ids 1,2,3) [options]

              --model DIR          Hugging Face model directory (config.json, safetensors, tokenizer.json)
              --adapter DIR        PEFT LoRA adapter directory applied to every token
              --prompt TEXT        prompt text, tokenized with the model's tokenizer.json
              --prompt-ids IDS     prompt token ids, comma separated
              --max-tokens N       tokens to generate (default 32; 0 = prefill only)
              --temperature T      0 = greedy (default)
              --top-k K            keep the K most likely tokens (default 0 = all)
              --top-p P            nucleus mass in (0, 1] (default 1)
              --seed S             sampling seed (default random)
              --threads N          compute threads (default 0 = one per core)
              --dtype D            as-stored (default) or int8: quantize the weights to int8 at load
              --logits-out FILE    write the last prompt position's logits (float32 LE, vocabulary order)
              --ignore-eos         keep generating after the end-of-sequence token
            """;

  private EngineCli() {}

  public static void main(String[] args) {
    // Run from the worker's lib/main and app jars, without Quarkus: its JBoss LogManager (lib/boot)
    // is absent, so DJL's SLF4J diagnostics would only print provider warnings. Errors reach the
    // user as exceptions anyway.
    if (System.getProperty("slf4j.provider") == null) {
      System.setProperty("slf4j.provider", "org.slf4j.helpers.NOP_FallbackServiceProvider");
      System.setProperty("slf4j.internal.verbosity", "WARN");
    }
    System.exit(run(args, System.out, System.err));
  }

  /** Runs the command line; returns the exit code (0 ok, 1 failure, 2 usage). */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    Options o;
    try {
      o = Options.parse(args);
    } catch (IllegalArgumentException e) {
      err.println("flotilla engine: " + e.getMessage());
      err.print(USAGE);
      return 2;
    }
    if (o.help) {
      out.print(USAGE);
      return 0;
    }
    try {
      return generate(o, out, err);
    } catch (EngineException | IOException e) {
      err.println("flotilla engine: " + e.getMessage());
      return 1;
    } catch (UnsatisfiedLinkError e) {
      err.println("flotilla engine: " + e.getMessage());
      return 1;
    }
  }

  private static int generate(Options o, PrintStream out, PrintStream err) throws IOException {
    if (!Files.isDirectory(o.model)) {
      throw new IOException("--model " + o.model + " is not a directory");
    }
    NativeEngine.ensureAvailable();
    TextTokenizer tokenizer =
        Files.isRegularFile(o.model.resolve("tokenizer.json")) ? TextTokenizer.load(o.model) : null;
    try (Model model = Model.load(o.model, Devices.CPU, o.dtype);
        Adapter adapter = o.adapter == null ? null : model.loadAdapter(o.adapter)) {
      ModelInfo info = model.info();
      int[] prompt;
      if (o.promptText != null) {
        if (tokenizer == null) {
          throw new IOException(
              o.model.resolve("tokenizer.json") + " does not exist; give --prompt-ids instead");
        }
        prompt = tokenizer.encode(o.promptText);
      } else {
        prompt = o.promptIds;
      }
      if (prompt.length == 0) {
        throw new IOException("the prompt is empty");
      }
      int maxTokens = Math.min(o.maxTokens, info.maxPositionEmbeddings() - prompt.length);
      if (maxTokens < 0) {
        throw new IOException(
            "the prompt has "
                + prompt.length
                + " tokens; the model's context is "
                + info.maxPositionEmbeddings());
      }
      int blockSize = 16;
      // an exact (F32) KV cache: --logits-out is what outside tools check the engine against
      KvDtype kvDtype = KvDtype.F32;
      long bytesPerBlock =
          (long) kvDtype.bytes() * 2 * blockSize * info.layers() * info.kvHeads() * info.headDim();
      long blocks = (prompt.length + maxTokens + blockSize) / blockSize + 1;
      int chunk = Math.min(prompt.length, 512);
      ContextParams params =
          new ContextParams(
              blockSize,
              blocks * bytesPerBlock,
              chunk,
              1,
              adapter == null ? 64 : Math.max(1, adapter.rank()),
              o.threads,
              kvDtype);
      Set<Integer> eos = o.ignoreEos ? Set.of() : GenerationConfig.eosTokens(o.model);
      SamplingParams sampling = new SamplingParams(o.temperature, o.topK, o.topP, o.seed);
      try (EngineContext ctx = model.createContext(params)) {
        ByteBuffer logits = ctx.allocateLogits(1);
        Batch batch = new Batch(chunk);
        long t0 = System.nanoTime();
        for (int start = 0; start < prompt.length; start += chunk) {
          batch.clear();
          int end = Math.min(prompt.length, start + chunk);
          for (int i = start; i < end; i++) {
            batch.add(prompt[i], 0, i, adapter, i == prompt.length - 1);
          }
          ctx.decode(batch, logits);
        }
        long prefillNanos = System.nanoTime() - t0;
        if (o.logitsOut != null) {
          writeLogits(o.logitsOut, logits, info.vocabSize());
        }
        List<Integer> generated = new ArrayList<>();
        long t1 = System.nanoTime();
        for (int step = 0; step < maxTokens; step++) {
          int token = Sampler.sample(logits, 0, info.vocabSize(), sampling, step).token();
          generated.add(token);
          if (eos.contains(token) || step == maxTokens - 1) {
            break;
          }
          batch.clear().add(token, 0, prompt.length + step, adapter, true);
          ctx.decode(batch, logits);
        }
        long decodeNanos = System.nanoTime() - t1;
        int[] ids = generated.stream().mapToInt(Integer::intValue).toArray();
        if (tokenizer != null) {
          out.println(tokenizer.decode(ids, 0, ids.length));
        }
        out.println(
            "token_ids: "
                + Arrays.stream(ids).mapToObj(String::valueOf).collect(Collectors.joining(",")));
        err.printf(
            "%s weights, isa %s: prompt %d tokens in %.1f ms, %d generated in %.1f ms (%.1f tokens/s)%n",
            info.weightDtype(),
            NativeEngine.instructionSet(),
            prompt.length,
            prefillNanos / 1e6,
            ids.length,
            decodeNanos / 1e6,
            ids.length <= 1 ? 0 : (ids.length - 1) * 1e9 / Math.max(1, decodeNanos));
      }
    } finally {
      if (tokenizer != null) {
        tokenizer.close();
      }
    }
    return 0;
  }

  private static void writeLogits(Path file, ByteBuffer logits, int vocab) throws IOException {
    ByteBuffer le = ByteBuffer.allocate(vocab * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (int v = 0; v < vocab; v++) {
      le.putFloat(logits.getFloat(v * 4));
    }
    le.flip();
    try (FileChannel ch =
        FileChannel.open(
            file,
            StandardOpenOption.CREATE,
            StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING)) {
      while (le.hasRemaining()) {
        ch.write(le);
      }
    }
  }

  /** Parsed arguments. */
  static final class Options {
    Path model;
    Path adapter;
    String promptText;
    int[] promptIds;
    int maxTokens = 32;
    float temperature;
    int topK;
    float topP = 1f;
    long seed = ThreadLocalRandom.current().nextLong();
    int threads;
    WeightDtype dtype = WeightDtype.AS_STORED;
    Path logitsOut;
    boolean ignoreEos;
    boolean help;

    static Options parse(String[] args) {
      Options o = new Options();
      for (int i = 0; i < args.length; i++) {
        String a = args[i];
        switch (a) {
          case "-h", "--help" -> o.help = true;
          case "--ignore-eos" -> o.ignoreEos = true;
          case "--model" -> o.model = Path.of(value(args, ++i, a));
          case "--adapter" -> o.adapter = Path.of(value(args, ++i, a));
          case "--prompt" -> o.promptText = value(args, ++i, a);
          case "--prompt-ids" -> o.promptIds = ids(value(args, ++i, a));
          case "--max-tokens" -> o.maxTokens = nonNegative(a, integer(a, value(args, ++i, a)));
          case "--temperature" -> o.temperature = number(a, value(args, ++i, a));
          case "--top-k" -> o.topK = nonNegative(a, integer(a, value(args, ++i, a)));
          case "--top-p" -> o.topP = number(a, value(args, ++i, a));
          case "--seed" -> o.seed = Long.parseUnsignedLong(value(args, ++i, a));
          case "--threads" -> o.threads = nonNegative(a, integer(a, value(args, ++i, a)));
          case "--logits-out" -> o.logitsOut = Path.of(value(args, ++i, a));
          case "--dtype" -> o.dtype = dtype(value(args, ++i, a));
          default -> throw new IllegalArgumentException("unknown option " + a);
        }
      }
      if (o.help) {
        return o;
      }
      if (o.model == null) {
        throw new IllegalArgumentException("--model is required");
      }
      if ((o.promptText == null) == (o.promptIds == null)) {
        throw new IllegalArgumentException("give exactly one of --prompt and --prompt-ids");
      }
      if (!Float.isFinite(o.temperature) || o.temperature < 0) {
        throw new IllegalArgumentException("--temperature must be a finite number >= 0");
      }
      if (!(o.topP > 0 && o.topP <= 1)) {
        throw new IllegalArgumentException("--top-p must be in (0, 1]");
      }
      return o;
    }

    private static String value(String[] args, int i, String option) {
      if (i >= args.length) {
        throw new IllegalArgumentException(option + " needs a value");
      }
      return args[i];
    }

    private static int integer(String option, String value) {
      try {
        return Integer.parseInt(value.trim());
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(option + " wants an integer, got '" + value + "'");
      }
    }

    private static float number(String option, String value) {
      try {
        return Float.parseFloat(value.trim());
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(option + " wants a number, got '" + value + "'");
      }
    }

    private static WeightDtype dtype(String value) {
      return switch (value.trim().toLowerCase(java.util.Locale.ROOT)) {
        case "as-stored" -> WeightDtype.AS_STORED;
        case "int8" -> WeightDtype.INT8;
        default ->
            throw new IllegalArgumentException(
                "--dtype must be as-stored or int8, got '" + value + "'");
      };
    }

    private static int nonNegative(String option, int value) {
      if (value < 0) {
        throw new IllegalArgumentException(option + " must be >= 0, got " + value);
      }
      return value;
    }

    private static int[] ids(String list) {
      try {
        return Arrays.stream(list.split(","))
            .map(String::trim)
            .filter(s -> !s.isEmpty())
            .mapToInt(Integer::parseInt)
            .toArray();
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            "--prompt-ids wants comma-separated integers, got '" + list + "'");
      }
    }
  }
}
