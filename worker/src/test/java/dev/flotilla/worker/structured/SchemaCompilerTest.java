package dev.flotilla.worker.structured;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The automaton a schema compiles to accepts exactly the compact JSON texts valid for it. */
class SchemaCompilerTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  private static ByteDfa compile(String schema) throws Exception {
    return SchemaCompiler.compile(JSON.readTree(schema), "schema");
  }

  private static boolean accepts(ByteDfa dfa, String text) {
    return dfa.matches(text.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void scalars() throws Exception {
    ByteDfa s = compile("{\"type\":\"string\"}");
    assertThat(accepts(s, "\"\"")).isTrue();
    assertThat(accepts(s, "\"héllo \\\"x\\\" \\n \\u00e9 ☃ 😀\"")).isTrue();
    assertThat(accepts(s, "\"a")).isFalse();
    assertThat(accepts(s, "\"a\"b")).isFalse();
    assertThat(accepts(s, "\"tab\there\"")).as("raw control character").isFalse();
    assertThat(accepts(s, "\"\\ud800\"")).as("lone surrogate escape").isFalse();
    assertThat(accepts(s, "\"\\x\"")).isFalse();
    assertThat(s.matches(new byte[] {'"', (byte) 0xc0, (byte) 0x80, '"'}))
        .as("overlong UTF-8")
        .isFalse();

    ByteDfa n = compile("{\"type\":\"number\"}");
    for (String ok : new String[] {"0", "-0", "12", "-3.25", "1e5", "2.5E-3", "0.0"}) {
      assertThat(accepts(n, ok)).as(ok).isTrue();
    }
    for (String bad : new String[] {"01", "1.", ".5", "+1", "1e", "-", "NaN", "1 "}) {
      assertThat(accepts(n, bad)).as(bad).isFalse();
    }
    ByteDfa i = compile("{\"type\":\"integer\"}");
    assertThat(accepts(i, "-42")).isTrue();
    assertThat(accepts(i, "4.2")).isFalse();
    assertThat(accepts(i, "1e3")).isFalse();

    ByteDfa b = compile("{\"type\":[\"boolean\",\"null\"]}");
    assertThat(accepts(b, "true")).isTrue();
    assertThat(accepts(b, "false")).isTrue();
    assertThat(accepts(b, "null")).isTrue();
    assertThat(accepts(b, "\"true\"")).isFalse();
  }

  @Test
  void objectsListDeclaredPropertiesInOrderWithTheRequiredOnes() throws Exception {
    ByteDfa o =
        compile(
            "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"},"
                + "\"b\":{\"type\":\"string\"},\"c\":{\"type\":\"boolean\"}},"
                + "\"required\":[\"b\"],\"additionalProperties\":false}");
    assertThat(accepts(o, "{\"b\":\"x\"}")).isTrue();
    assertThat(accepts(o, "{\"a\":1,\"b\":\"x\"}")).isTrue();
    assertThat(accepts(o, "{\"a\": 1, \"b\": \"x\", \"c\": true}")).isTrue();
    assertThat(accepts(o, "{\"b\":\"x\",\"c\":false}")).isTrue();
    assertThat(accepts(o, "{}")).as("b is required").isFalse();
    assertThat(accepts(o, "{\"a\":1}")).isFalse();
    assertThat(accepts(o, "{\"a\":1,}")).isFalse();
    assertThat(accepts(o, "{,\"b\":\"x\"}")).isFalse();
    assertThat(accepts(o, "{\"b\":\"x\",\"a\":1}")).as("declaration order").isFalse();
    assertThat(accepts(o, "{\"b\":\"x\",\"d\":1}")).isFalse();
    assertThat(accepts(o, "{\"a\":\"1\",\"b\":\"x\"}")).isFalse();

    ByteDfa allOptional =
        compile("{\"properties\":{\"a\":{\"type\":\"null\"},\"b\":{\"type\":\"null\"}}}");
    for (String ok :
        new String[] {"{}", "{\"a\":null}", "{\"b\":null}", "{\"a\":null,\"b\":null}"}) {
      assertThat(accepts(allOptional, ok)).as(ok).isTrue();
    }
  }

  @Test
  void arraysEnumsConstAnyOfAndNesting() throws Exception {
    ByteDfa a =
        compile(
            "{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
                + "\"tags\":{\"type\":\"array\",\"items\":{\"enum\":[\"x\",\"y\",3,null]}},"
                + "\"v\":{\"anyOf\":[{\"type\":\"integer\"},{\"const\":\"none\"}]}},"
                + "\"required\":[\"tags\",\"v\"]}}");
    assertThat(accepts(a, "[]")).isTrue();
    assertThat(accepts(a, "[{\"tags\":[],\"v\":1}]")).isTrue();
    assertThat(accepts(a, "[{\"tags\":[\"x\",3,null],\"v\":\"none\"},{\"tags\":[\"y\"],\"v\":-7}]"))
        .isTrue();
    assertThat(accepts(a, "[{\"tags\":[\"z\"],\"v\":1}]")).isFalse();
    assertThat(accepts(a, "[{\"tags\":[],\"v\":\"some\"}]")).isFalse();
    assertThat(accepts(a, "[{\"tags\":[],\"v\":1},]")).isFalse();
    assertThat(accepts(a, "[{\"tags\":[],\"v\":1}")).isFalse();

    ByteDfa bounded = compile("{\"type\":\"string\",\"minLength\":2,\"maxLength\":3}");
    assertThat(accepts(bounded, "\"a\"")).isFalse();
    assertThat(accepts(bounded, "\"ab\"")).isTrue();
    assertThat(accepts(bounded, "\"a\\né\"")).isTrue();
    assertThat(accepts(bounded, "\"abcd\"")).isFalse();
  }

  @Test
  void anyValueAndAnyObject() throws Exception {
    ByteDfa any = compile("{}");
    for (String ok :
        new String[] {"1", "\"s\"", "[1,[2,{\"a\":null}]]", "{\"k\": [true, false]}"}) {
      assertThat(accepts(any, ok)).as(ok).isTrue();
    }
    assertThat(accepts(any, "[1,2")).isFalse();
    assertThat(accepts(any, "{\"a\":[1}")).isFalse();
    ByteDfa object = SchemaCompiler.anyObject("response_format");
    assertThat(accepts(object, "{\"a\":{\"b\":[1,2,{\"c\":\"d\"}]},\"e\":-1.5e3}")).isTrue();
    assertThat(accepts(object, "[1]")).as("an object, not any value").isFalse();
    assertThat(accepts(object, "{\"a\":1}}")).isFalse();
    String deep =
        "[".repeat(SchemaCompiler.ANY_VALUE_DEPTH) + "]".repeat(SchemaCompiler.ANY_VALUE_DEPTH);
    assertThat(accepts(object, "{\"a\":" + deep + "}")).as("beyond the depth bound").isFalse();
  }

  @Test
  void everyStateTheAutomatonKeepsCanStillFinish() throws Exception {
    ByteDfa o =
        compile(
            "{\"type\":\"object\",\"properties\":{\"a\":{\"enum\":[\"long-value\"]}},\"required\":[\"a\"]}");
    int s = o.walk(0, "{\"a\":\"long".getBytes(StandardCharsets.UTF_8));
    assertThat(s).isNotEqualTo(ByteDfa.DEAD);
    assertThat(o.walk(0, "{\"a\":\"lonx".getBytes(StandardCharsets.UTF_8))).isEqualTo(ByteDfa.DEAD);
    int whole = o.walk(0, "{\"a\":\"long-value\"}".getBytes(StandardCharsets.UTF_8));
    assertThat(o.complete(whole)).isTrue();
  }

  @Test
  void unsupportedKeywordsAreRefusedByName() {
    assertThatThrownBy(() -> compile("{\"type\":\"string\",\"pattern\":\"^a$\"}"))
        .isInstanceOf(SchemaException.class)
        .hasMessageContaining("'pattern'");
    assertThatThrownBy(
            () -> compile("{\"type\":\"object\",\"properties\":{\"x\":{\"$ref\":\"#/a\"}}}"))
        .hasMessageContaining("at /properties/x")
        .hasMessageContaining("'$ref'");
    assertThatThrownBy(() -> compile("{\"type\":\"array\",\"items\":{},\"minItems\":1}"))
        .hasMessageContaining("'minItems'");
    assertThatThrownBy(() -> compile("{\"oneOf\":[{}]}")).hasMessageContaining("'oneOf'");
    assertThatThrownBy(() -> compile("{\"type\":\"strng\"}")).hasMessageContaining("type must be");
    assertThatThrownBy(() -> compile("{\"properties\":{\"a\":{}},\"required\":[\"b\"]}"))
        .hasMessageContaining("required names \"b\"");
    assertThatThrownBy(() -> compile("{\"type\":\"integer\",\"enum\":[\"a\"]}"))
        .hasMessageContaining("not of the schema's type");
    assertThatThrownBy(() -> compile("false")).hasMessageContaining("allows no value");
  }
}
