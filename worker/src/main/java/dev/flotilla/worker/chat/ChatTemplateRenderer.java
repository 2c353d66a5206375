package dev.flotilla.worker.chat;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.el.JinjavaProcessors;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import com.hubspot.jinjava.objects.date.StrftimeFormatter;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.util.Map;
import jinjava.javax.el.CompositeELResolver;

/**
 * Renders Hugging Face chat templates (Jinja) the way {@code transformers}' {@code
 * apply_chat_template} does: Jinja2 semantics with {@code trim_blocks} and {@code lstrip_blocks},
 * no autoescaping, undefined names rendering as empty and testing false, the {@code loopcontrols}
 * extension ({@code break}, {@code continue}), {@code namespace()}, and the globals and filters
 * transformers adds: {@code raise_exception(message)}, {@code strftime_now(format)} and a {@code
 * tojson} with Python's {@code json.dumps} output ({@code indent}, {@code sort_keys}).
 *
 * <p>Templates come from model files, so a rendering is bounded the way a sandbox bounds it: the
 * output (and every string built on the way) is at most {@link Limits#maxOutputChars}, rendering
 * stops after {@link Limits#maxTime}, macros recurse at most {@value #MAX_MACRO_DEPTH} deep, {@code
 * range()} yields at most {@value #MAX_RANGE} numbers, nothing is included or imported, text from
 * the conversation is never rendered as a template again, and only Python's read-only methods of
 * strings, dicts and lists can be called (see {@link PythonMethods}). Thread-safe.
 */
public final class ChatTemplateRenderer {
  static final int MAX_MACRO_DEPTH = 32;
  static final int MAX_RANGE = 10_000;
  static final int MAX_COLLECTION_SIZE = 100_000;

  /**
   * Bounds on one rendering.
   *
   * @param maxOutputChars the longest prompt (and the longest string) a template may build
   * @param maxTime how long one rendering may take
   */
  public record Limits(long maxOutputChars, Duration maxTime) {
    /**
     * 8 Mi characters is ~2 M tokens, past any context length; a real template renders in well
     * under a millisecond, so a second only stops a template that loops on purpose.
     */
    public static final Limits DEFAULT = new Limits(8L << 20, Duration.ofSeconds(1));
  }

  /** What one rendering on this thread has seen; the globals report into it. */
  private static final class Run {
    final long deadlineNanos;
    String raised;
    boolean timedOut;

    Run(long deadlineNanos) {
      this.deadlineNanos = deadlineNanos;
    }
  }

  private static final ThreadLocal<Run> CURRENT = new ThreadLocal<>();

  private final Jinjava jinjava;
  private final Limits limits;

  public ChatTemplateRenderer(Limits limits, Clock clock) {
    this.limits = limits;
    CompositeELResolver resolver = new CompositeELResolver();
    resolver.add(new PythonMethods());
    resolver.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_ONLY);
    JinjavaConfig config =
        JinjavaConfig.newBuilder()
            .withTrimBlocks(true)
            .withLstripBlocks(true)
            .withNestedInterpretationEnabled(false)
            .withFailOnUnknownTokens(false)
            .withMaxOutputSize(limits.maxOutputChars())
            .withMaxStringLength(limits.maxOutputChars())
            .withMaxListSize(MAX_COLLECTION_SIZE)
            .withMaxMapSize(MAX_COLLECTION_SIZE)
            .withRangeLimit(MAX_RANGE)
            .withEnableRecursiveMacroCalls(true)
            .withMaxMacroRecursionDepth(MAX_MACRO_DEPTH)
            .withElResolver(resolver)
            .withTimeZone(clock.getZone())
            .withDateTimeProvider(clock::millis)
            .withLegacyOverrides(
                LegacyOverrides.newBuilder()
                    .withUseNaturalOperatorPrecedence(true)
                    .withParseWhitespaceControlStrictly(true)
                    .withUseTrimmingForNotesAndExpressions(true)
                    .withIterateOverMapKeys(true)
                    .withEvaluateMapKeys(true)
                    .withKeepNullableLoopValues(true)
                    .build())
            .withProcessors(
                JinjavaProcessors.newBuilder()
                    .withNodePreProcessor((node, interpreter) -> checkDeadline())
                    .build())
            .build();
    jinjava = new Jinjava(config);
    jinjava.setResourceLocator(
        (name, charset, interpreter) -> {
          throw new IOException("chat templates cannot include or import other templates");
        });
    jinjava.registerFunction(
        new ELFunctionDefinition(
            "", "raise_exception", ChatTemplateRenderer.class, "raise", String.class));
    jinjava.registerFunction(
        new ELFunctionDefinition(
            "", "strftime_now", ChatTemplateRenderer.class, "strftimeNow", String.class));
    jinjava.registerFilter(new ToJson());
    jinjava.registerFilter(new Reversed());
  }

  /**
   * The template's output for these variables.
   *
   * @throws ChatTemplateException when the template raises, fails or passes a limit
   */
  public String render(String template, Map<String, ?> variables) throws ChatTemplateException {
    Run run = new Run(System.nanoTime() + limits.maxTime().toNanos());
    CURRENT.set(run);
    RenderResult result;
    try {
      result = jinjava.renderForResult(withPythonSlices(template), variables);
    } catch (RuntimeException e) {
      throw new ChatTemplateException("the model's chat template failed: " + e.getMessage());
    } finally {
      CURRENT.remove();
    }
    if (run.raised != null) {
      throw new ChatTemplateException(run.raised);
    }
    if (run.timedOut) {
      throw new ChatTemplateException(
          "the model's chat template took longer than "
              + limits.maxTime().toMillis()
              + " ms to render");
    }
    for (TemplateError error : result.getErrors()) {
      if (error.getSeverity() != TemplateError.ErrorType.FATAL) {
        continue;
      }
      if (error.getReason() == TemplateError.ErrorReason.OUTPUT_TOO_BIG) {
        throw new ChatTemplateException(
            "the model's chat template rendered more than "
                + limits.maxOutputChars()
                + " characters");
      }
      throw new ChatTemplateException(
          "the model's chat template failed at line "
              + error.getLineno()
              + ": "
              + error.getMessage());
    }
    return result.getOutput();
  }

  /**
   * Jinjava parses {@code x[1:]} but not a slice with a step; templates (Qwen's among them) walk
   * the conversation backwards with {@code messages[::-1]}, which becomes a filter call here.
   */
  static String withPythonSlices(String template) {
    return template.replace("[::-1]", "|" + Reversed.NAME);
  }

  private static void checkDeadline() {
    Run run = CURRENT.get();
    if (run != null && (run.timedOut || System.nanoTime() - run.deadlineNanos > 0)) {
      run.timedOut = true;
      throw new IllegalStateException("chat template rendering time is up");
    }
  }

  /** transformers' {@code raise_exception}: the template refuses the conversation. */
  public static String raise(String message) {
    Run run = CURRENT.get();
    if (run != null && run.raised == null) {
      run.raised = message;
    }
    throw new IllegalArgumentException(message);
  }

  /** transformers' {@code strftime_now}: the current time in Python's strftime format. */
  public static String strftimeNow(String format) {
    JinjavaConfig config = JinjavaInterpreter.getCurrent().getConfig();
    ZonedDateTime now =
        Instant.ofEpochMilli(config.getDateTimeProvider().getCurrentTimeMillis())
            .atZone(config.getTimeZone());
    return StrftimeFormatter.format(now, format, config.getLocale());
  }

  /** Python's {@code x[::-1]}: a list or a string, reversed. */
  private static final class Reversed implements Filter {
    static final String NAME = "flotilla_reversed";

    @Override
    public String getName() {
      return NAME;
    }

    @Override
    public Object filter(Object value, JinjavaInterpreter interpreter, String... args) {
      if (value instanceof String s) {
        return new StringBuilder(s).reverse().toString();
      }
      if (value instanceof java.util.List<?> list) {
        java.util.List<Object> out = new java.util.ArrayList<>(list);
        java.util.Collections.reverse(out);
        return out;
      }
      throw new IllegalArgumentException("[::-1] needs a list or a string");
    }
  }

  /** transformers' {@code tojson(value, indent=None, sort_keys=False)}, without HTML escaping. */
  private static final class ToJson implements Filter {
    @Override
    public String getName() {
      return "tojson";
    }

    @Override
    public Object filter(Object value, JinjavaInterpreter interpreter, String... args) {
      return filter(value, interpreter, args, Map.of());
    }

    @Override
    public Object filter(
        Object value, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
      Object indent = kwargs.getOrDefault("indent", args.length > 0 ? args[0] : null);
      Object sort = kwargs.getOrDefault("sort_keys", args.length > 1 ? args[1] : false);
      return PythonJson.dumps(
          value,
          indent == null ? null : Integer.valueOf(indent.toString()),
          Boolean.TRUE.equals(sort) || "true".equalsIgnoreCase(String.valueOf(sort)));
    }
  }
}
