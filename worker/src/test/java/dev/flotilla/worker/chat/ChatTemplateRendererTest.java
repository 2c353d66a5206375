package dev.flotilla.worker.chat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Each feature of Hugging Face chat templates, on templates written for it. */
class ChatTemplateRendererTest {
  static final Clock JULY_26 = Clock.fixed(Instant.parse("2024-07-26T10:00:00Z"), ZoneOffset.UTC);
  private final ChatTemplateRenderer renderer =
      new ChatTemplateRenderer(ChatTemplateRenderer.Limits.DEFAULT, JULY_26);

  static Map<String, Object> msg(String role, String content) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("role", role);
    m.put("content", content);
    return m;
  }

  private String render(String template, Map<String, ?> variables) throws ChatTemplateException {
    return renderer.render(template, variables);
  }

  @Test
  void trimBlocksAndLstripBlocksAsTransformersSetsThem() throws Exception {
    String template =
        """
        {% for message in messages %}
            {% if message.role == 'system' %}
        [{{ message.content }}]
            {% else %}
        {{ message.role }}: {{ message.content }}
            {% endif %}
        {% endfor %}
        {%- if add_generation_prompt %}
            {{- 'assistant:' }}
        {%- endif %}
        """;
    List<Map<String, Object>> chat = List.of(msg("system", "S"), msg("user", "hi"));
    assertThat(render(template, Map.of("messages", chat, "add_generation_prompt", true)))
        .isEqualTo("[S]\nuser: hi\nassistant:");
    assertThat(render(template, Map.of("messages", chat, "add_generation_prompt", false)))
        .isEqualTo("[S]\nuser: hi\n");
  }

  @Test
  void multiTurnWithSystemPromptAndLoopVariables() throws Exception {
    String template =
        "{% if messages[0]['role'] == 'system' %}{% set system = messages[0]['content'] %}"
            + "{% set rest = messages[1:] %}{% else %}{% set rest = messages %}{% endif %}"
            + "{% if system is defined %}<<{{ system | trim }}>>{% endif %}"
            + "{% for m in rest %}{{ loop.index0 }}:{{ m['role'] }}={{ m.content }}"
            + "{% if not loop.last %},{% endif %}{% endfor %}";
    assertThat(
            render(
                template,
                Map.of(
                    "messages",
                    List.of(
                        msg("system", " Be kind. "),
                        msg("user", "a"),
                        msg("assistant", "b"),
                        msg("user", "c")))))
        .isEqualTo("<<Be kind.>>0:user=a,1:assistant=b,2:user=c");
    assertThat(render(template, Map.of("messages", List.of(msg("user", "a")))))
        .isEqualTo("0:user=a");
  }

  @Test
  void raiseExceptionRefusesTheConversationWithTheTemplatesMessage() {
    String template =
        "{% for m in messages %}{% if (m.role == 'user') != (loop.index0 % 2 == 0) %}"
            + "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
            + "{% endif %}{{ m.content }}{% endfor %}";
    assertThatThrownBy(
            () -> render(template, Map.of("messages", List.of(msg("user", "a"), msg("user", "b")))))
        .isInstanceOf(ChatTemplateException.class)
        .hasMessage("Conversation roles must alternate user/assistant/user/assistant/...");
  }

  @Test
  void tojsonWritesWhatPythonsJsonDumpsWrites() throws Exception {
    Map<String, Object> params = new LinkedHashMap<>();
    params.put("n", 1);
    params.put("step", 0.5);
    params.put("tiny", 1e-5);
    params.put("big", 1e7);
    params.put("flag", true);
    params.put("none", null);
    params.put("text", "naïve \"quoted\"\n<b>");
    params.put("list", List.of(1, 2));
    Map<String, Object> variables = Map.of("p", params);
    assertThat(render("{{ p | tojson }}", variables))
        .isEqualTo(
            "{\"n\": 1, \"step\": 0.5, \"tiny\": 1e-05, \"big\": 10000000.0, \"flag\": true,"
                + " \"none\": null, \"text\": \"naïve \\\"quoted\\\"\\n<b>\", \"list\": [1, 2]}");
    assertThat(render("{{ p.list | tojson(indent=2) }}", variables)).isEqualTo("[\n  1,\n  2\n]");
    assertThat(render("{{ {'b': 1, 'a': [] } | tojson(sort_keys=true) }}", Map.of()))
        .isEqualTo("{\"a\": [], \"b\": 1}");
  }

  @Test
  void namespaceCarriesStateOutOfLoops() throws Exception {
    String template =
        "{% set ns = namespace(last_user=-1, seen=false) %}{% for m in messages %}"
            + "{% if m.role == 'user' %}{% set ns.last_user = loop.index0 %}{% set ns.seen = true %}"
            + "{% endif %}{% endfor %}{{ ns.last_user }} {{ 'seen' if ns.seen }}";
    assertThat(
            render(
                template,
                Map.of(
                    "messages",
                    List.of(msg("user", "a"), msg("assistant", "b"), msg("user", "c")))))
        .isEqualTo("2 seen");
  }

  @Test
  void breakAndContinue() throws Exception {
    String template =
        "{% for m in messages %}{% if m.role == 'system' %}{% continue %}{% endif %}"
            + "{% if m.content == 'stop' %}{% break %}{% endif %}{{ m.content }}{% endfor %}";
    assertThat(
            render(
                template,
                Map.of(
                    "messages",
                    List.of(
                        msg("system", "s"),
                        msg("user", "a"),
                        msg("user", "stop"),
                        msg("user", "z")))))
        .isEqualTo("a");
  }

  @Test
  void strftimeNowFormatsTheClocksTime() throws Exception {
    assertThat(render("{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d') }}", Map.of()))
        .isEqualTo("26 Jul 2024|2024-07-26");
  }

  @Test
  void pythonStringAndDictMethods() throws Exception {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("role", "user");
    m.put("content", "  Hello, World  ");
    assertThat(
            render(
                "{{ m.content.strip() }}|{{ m.content.lstrip() }}|{{ m.content.strip().upper() }}"
                    + "|{{ m.content.strip().lower() }}|{{ 'Y' if m.content.strip().startswith('Hello') }}"
                    + "|{{ 'Y' if m.content.strip().endswith(('x', 'World')) }}"
                    + "|{{ m.content.split() | join('/') }}|{{ m.content.strip().split(', ') | length }}"
                    + "|{{ 'a-b-c'.rsplit('-', 1) | join('/') }}"
                    + "|{{ 'xxhixx'.strip('x') }}|{{ m.content.replace('l', 'L') | trim }}"
                    + "|{{ ', '.join(['a', 'b']) }}|{{ 'ab'.title() }}",
                Map.of("m", m)))
        .isEqualTo(
            "Hello, World|Hello, World  |HELLO, WORLD|hello, world|Y|Y|Hello,/World|2"
                + "|a-b/c|hi|HeLLo, WorLd|a, b|Ab");
    assertThat(
            render(
                "{% for k, v in m.items() %}{{ k }}={{ v | trim }};{% endfor %}"
                    + "{% for k in m %}{{ k }},{% endfor %}{{ m.keys() | list | length }}"
                    + "{{ m.get('name', 'anon') }}{{ m.get('role') }}",
                Map.of("m", m)))
        .isEqualTo("role=user;content=Hello, World;role,content,2anonuser");
  }

  @Test
  void undefinedNamesRenderEmptyAndTestFalseAsInJinja2() throws Exception {
    assertThat(
            render(
                "[{{ nothing }}]{% if tools %}T{% endif %}{% if tools is not defined %}U{% endif %}"
                    + "{% if documents is defined %}D{% endif %}",
                Map.of()))
        .isEqualTo("[]U");
  }

  @Test
  void toolsReachTheTemplate() throws Exception {
    Map<String, Object> function = new LinkedHashMap<>();
    function.put("name", "get_weather");
    function.put("parameters", Map.of("type", "object"));
    Map<String, Object> tool = new LinkedHashMap<>();
    tool.put("type", "function");
    tool.put("function", function);
    // trim_blocks drops the newline right after each block tag, as Jinja2 does.
    String template =
        "{% if tools %}Tools:{% for t in tools %}\n{{ t.function.name }} {{ t | tojson }}"
            + "{% endfor %}\n{% endif %}{{ messages[-1].content }}";
    assertThat(
            render(
                template,
                Map.of("messages", List.of(msg("user", "Weather?")), "tools", List.of(tool))))
        .isEqualTo(
            "Tools:get_weather {\"type\": \"function\", \"function\": {\"name\": \"get_weather\","
                + " \"parameters\": {\"type\": \"object\"}}}Weather?");
  }

  @Test
  void reversedSlicesWalkTheConversationBackwards() throws Exception {
    assertThat(
            render(
                "{% for m in messages[::-1] %}{{ m.content }}{% endfor %}{{ 'abc'[::-1] }}",
                Map.of("messages", List.of(msg("user", "1"), msg("assistant", "2")))))
        .isEqualTo("21cba");
  }

  @Test
  void conversationTextIsNeverRenderedAsATemplate() throws Exception {
    assertThat(
            render(
                "{{ messages[0].content }}",
                Map.of("messages", List.of(msg("user", "{{ 7 * 7 }}{% raise %}")))))
        .isEqualTo("{{ 7 * 7 }}{% raise %}");
  }

  @Test
  void javaMethodsMutationAndIncludesAreRefused() {
    Map<String, Object> variables = Map.of("messages", List.of(msg("user", "x")));
    assertThatThrownBy(() -> render("{{ 'x'.repeat(1000000000) }}", variables))
        .isInstanceOf(ChatTemplateException.class)
        .hasMessageContaining("'str' object has no method 'repeat'");
    assertThatThrownBy(() -> render("{{ messages.append(1) }}", variables))
        .hasMessageContaining("'list' object has no method 'append'");
    assertThatThrownBy(() -> render("{{ messages[0].put('role', 'system') }}", variables))
        .hasMessageContaining("'dict' object has no method 'put'");
    assertThatThrownBy(() -> render("{% include 'other.jinja' %}", variables))
        .hasMessageContaining("cannot include or import");
  }

  @Test
  void aTemplateThatLoopsPastTheTimeLimitIsStopped() {
    ChatTemplateRenderer quick =
        new ChatTemplateRenderer(
            new ChatTemplateRenderer.Limits(1 << 20, Duration.ofMillis(200)), JULY_26);
    assertThatThrownBy(
            () ->
                quick.render(
                    "{% for a in range(10000) %}{% for b in range(10000) %}{% for c in range(10000) %}"
                        + "{% endfor %}{% endfor %}{% endfor %}",
                    Map.of()))
        .isInstanceOf(ChatTemplateException.class)
        .hasMessage("the model's chat template took longer than 200 ms to render");
  }

  @Test
  void aTemplateThatWritesTooMuchIsStopped() {
    ChatTemplateRenderer small =
        new ChatTemplateRenderer(
            new ChatTemplateRenderer.Limits(1000, Duration.ofSeconds(5)), JULY_26);
    assertThatThrownBy(() -> small.render("{% for a in range(2000) %}xy{% endfor %}", Map.of()))
        .isInstanceOf(ChatTemplateException.class)
        .hasMessage("the model's chat template rendered more than 1000 characters");
  }

  @Test
  void unboundedMacroRecursionEnds() {
    assertThatThrownBy(
            () ->
                render(
                    "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}{{ raise_exception('reached') }}",
                    Map.of()))
        .hasMessage("reached");
  }
}
