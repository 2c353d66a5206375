package dev.flotilla.worker.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.testkit.TokenizerFiles;
import dev.flotilla.worker.engine.LogitMask;
import dev.flotilla.worker.engine.Sampler;
import dev.flotilla.worker.engine.SamplingParams;
import dev.flotilla.worker.structured.GrammarConstraint;
import dev.flotilla.worker.structured.SchemaCompiler;
import dev.flotilla.worker.structured.TokenMasks;
import dev.flotilla.worker.text.TokenBytes;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.Set;

/**
 * What grammar masking adds per generated token at batch 32: each step takes 32 logits rows of a
 * byte-level vocabulary and samples one token per row (temperature 1), once plain and once under a
 * JSON Schema grammar (allowed-token lookup, {@code fl_mask_logits}, sampling, advancing the
 * automaton; a sequence whose value is whole starts over). Both loops refresh the rows from the
 * same random logits first, so the difference is the masking. Also reports the schema's compile
 * time and the one-time cost of computing the token masks of the states the run visited. Prints one
 * JSON line. Usage: {@code GrammarMaskBench vocab seconds}.
 */
public final class GrammarMaskBench {
  static final String SCHEMA =
      "{\"type\":\"object\",\"properties\":{"
          + "\"name\":{\"type\":\"string\",\"maxLength\":12},"
          + "\"kind\":{\"enum\":[\"cat\",\"dog\",\"eel\"]},"
          + "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":6}},"
          + "\"owner\":{\"type\":\"object\",\"properties\":{"
          + "\"age\":{\"type\":\"integer\"},\"vip\":{\"anyOf\":[{\"type\":\"boolean\"},{\"type\":\"null\"}]}},"
          + "\"required\":[\"age\"]}},"
          + "\"required\":[\"name\",\"kind\",\"owner\"]}";
  static final int BATCH = 32;

  private GrammarMaskBench() {}

  public static void main(String[] args) throws Exception {
    int vocab = Integer.parseInt(args[0]);
    double seconds = Double.parseDouble(args[1]);
    Path dir = Files.createTempDirectory("grammar-bench");
    TokenizerFiles.write(dir, vocab, 2048);
    TokenBytes bytes = TokenBytes.load(dir, vocab);
    Set<Integer> eos = Set.of(TokenizerFiles.EOS_ID);

    long c0 = System.nanoTime();
    TokenMasks masks =
        new TokenMasks(
            SchemaCompiler.compile(new ObjectMapper().readTree(SCHEMA), "schema"), bytes, eos);
    double compileMs = (System.nanoTime() - c0) / 1e6;
    long o0 = System.nanoTime();
    int objectStates = SchemaCompiler.anyObject("response_format").states();
    double objectCompileMs = (System.nanoTime() - o0) / 1e6;

    ByteBuffer template =
        ByteBuffer.allocateDirect(BATCH * vocab * 4).order(ByteOrder.nativeOrder());
    Random random = new Random(42);
    for (int i = 0; i < BATCH * vocab; i++) {
      template.putFloat(i * 4, (float) random.nextGaussian() * 3);
    }
    ByteBuffer logits = ByteBuffer.allocateDirect(BATCH * vocab * 4).order(ByteOrder.nativeOrder());
    SamplingParams params = new SamplingParams(1f, 0, 1f, 7);

    // warm-up of the masked loop computes the masks of the states the run visits
    long w0 = System.nanoTime();
    run(masks, template, logits, vocab, params, true, 2.0);
    double warmMs = (System.nanoTime() - w0) / 1e6;
    run(masks, template, logits, vocab, params, false, 1.0);

    double plain = run(masks, template, logits, vocab, params, false, seconds);
    double masked = run(masks, template, logits, vocab, params, true, seconds);
    System.out.printf(
        "{\"vocab\":%d,\"batch\":%d,\"dfa_states\":%d,\"compile_ms\":%.1f,"
            + "\"json_object_states\":%d,\"json_object_compile_ms\":%.1f,"
            + "\"first_visits_and_warmup_ms\":%.1f,\"plain_ns_per_token\":%.0f,"
            + "\"masked_ns_per_token\":%.0f,\"mask_cost_ns_per_token\":%.0f}%n",
        vocab,
        BATCH,
        masks.automaton().states(),
        compileMs,
        objectStates,
        objectCompileMs,
        warmMs,
        plain,
        masked,
        masked - plain);
  }

  /** Steps for {@code seconds}; returns nanoseconds per sampled token. */
  private static double run(
      TokenMasks masks,
      ByteBuffer template,
      ByteBuffer logits,
      int vocab,
      SamplingParams params,
      boolean constrained,
      double seconds) {
    GrammarConstraint[] seqs = new GrammarConstraint[BATCH];
    for (int s = 0; s < BATCH; s++) {
      seqs[s] = new GrammarConstraint(masks);
    }
    long tokens = 0;
    long step = 0;
    long start = System.nanoTime();
    long end = start + (long) (seconds * 1e9);
    long now = start;
    while (now < end) {
      logits.clear();
      template.clear();
      logits.put(template);
      for (int s = 0; s < BATCH; s++) {
        if (constrained) {
          LogitMask.apply(logits, s, vocab, seqs[s].allowedTokens());
        }
        int token = Sampler.sample(logits, s, vocab, params, step * BATCH + s).token();
        if (constrained) {
          seqs[s].accept(token);
          if (masks.isEos(token)) {
            seqs[s] = new GrammarConstraint(masks);
          }
        }
        tokens++;
      }
      step++;
      now = System.nanoTime();
    }
    return (double) (now - start) / tokens;
  }
}
