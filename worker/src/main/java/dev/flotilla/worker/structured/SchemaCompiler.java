package dev.flotilla.worker.structured;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.worker.structured.ByteNfa.Fragment;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * JSON Schema (the subset OpenAI's structured outputs use) → a byte automaton that accepts exactly
 * the compact JSON texts the output may be.
 *
 * <p>Supported: {@code type} (string, number, integer, boolean, null, object, array, or a list of
 * these), {@code properties}, {@code required}, {@code additionalProperties} (a boolean), {@code
 * items}, {@code enum}, {@code const}, {@code anyOf}, and the annotations {@code title}, {@code
 * description}, {@code default}, {@code examples}, {@code $schema}. Any other keyword is refused by
 * name, so nothing that would change what is valid is silently ignored.
 *
 * <p>The text produced: objects list their declared properties in declaration order, each optional
 * one present or not, and no others (valid whether or not additional properties are allowed); one
 * optional space after {@code :} and {@code ,} and no other whitespace; strings of printable ASCII,
 * well-formed UTF-8 and JSON escapes ({@code \\u} escapes outside the surrogate range); numbers in
 * JSON's grammar. A schema without a type ({@code {}}, or an object or array without properties or
 * items) allows any JSON value, nested at most {@link #ANY_VALUE_DEPTH} levels deep.
 */
public final class SchemaCompiler {
  /** How deep an unconstrained value ({@code json_object}, {@code {}}) may nest. */
  public static final int ANY_VALUE_DEPTH = 5;

  /** The largest minLength / maxLength: each character of the bound is states of its own. */
  public static final int MAX_LENGTH = 1000;

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Set<String> KEYWORDS =
      Set.of(
          "type",
          "properties",
          "required",
          "additionalProperties",
          "items",
          "enum",
          "const",
          "anyOf",
          "minLength",
          "maxLength",
          "title",
          "description",
          "default",
          "examples",
          "$schema");
  private static final Set<String> TYPES =
      Set.of("string", "number", "integer", "boolean", "null", "object", "array");

  private final ByteNfa nfa;
  private final String field;

  private SchemaCompiler(String field) {
    this.field = field;
    this.nfa = new ByteNfa(field);
  }

  /**
   * The automaton of texts valid for {@code schema}, preceded by {@code prefix} and followed by
   * {@code suffix} (literal text, e.g. a tool-call wrapper; empty for none).
   *
   * @param field the request field the schema came in, named in refusals
   * @throws SchemaException naming the keyword or value refused
   */
  public static ByteDfa compile(JsonNode schema, String field) {
    SchemaCompiler c = new SchemaCompiler(field);
    Fragment root = c.value(schema, "");
    return ByteDfa.determinize(c.nfa, root, field);
  }

  /** The automaton of any JSON object (OpenAI's {@code json_object} format). */
  public static ByteDfa anyObject(String field) {
    SchemaCompiler c = new SchemaCompiler(field);
    return ByteDfa.determinize(c.nfa, c.anyObject(ANY_VALUE_DEPTH), field);
  }

  /**
   * One of several {@code prefix value suffix} texts, value valid for its schema: a tool call, say,
   * with a wrapper per function.
   */
  public static ByteDfa alternatives(List<Wrapped> alternatives, String field) {
    SchemaCompiler c = new SchemaCompiler(field);
    return ByteDfa.determinize(c.nfa, c.union(alternatives), field);
  }

  /**
   * One or more of the {@link #alternatives}, each after the first preceded by {@code separator}:
   * several tool calls in a row, say.
   */
  public static ByteDfa repeatedAlternatives(
      List<Wrapped> alternatives, String separator, String field) {
    SchemaCompiler c = new SchemaCompiler(field);
    Fragment one = c.union(alternatives);
    return ByteDfa.determinize(c.nfa, c.nfa.oneOrMore(one, c.nfa.literal(separator)), field);
  }

  private Fragment union(List<Wrapped> alternatives) {
    List<Fragment> parts = new ArrayList<>();
    for (Wrapped w : alternatives) {
      Fragment f = nfa.then(nfa.literal(w.prefix()), value(w.schema(), w.path()));
      parts.add(nfa.then(f, nfa.literal(w.suffix())));
    }
    return nfa.union(parts);
  }

  /** A schema's value between literal text; {@code path} names it in refusals. */
  public record Wrapped(String prefix, JsonNode schema, String suffix, String path) {}

  // --- schema nodes --------------------------------------------------------------------------

  private Fragment value(JsonNode schema, String path) {
    if (schema.isBoolean()) {
      if (!schema.asBoolean()) {
        throw refuse(path, "the schema false allows no value");
      }
      return anyValue(ANY_VALUE_DEPTH);
    }
    if (!schema.isObject()) {
      throw refuse(path, "a schema must be an object or a boolean");
    }
    for (Iterator<String> it = schema.fieldNames(); it.hasNext(); ) {
      String keyword = it.next();
      if (!KEYWORDS.contains(keyword)) {
        throw refuse(
            path,
            "keyword '"
                + keyword
                + "' is not supported (supported: type, properties, required,"
                + " additionalProperties, items, enum, const, anyOf, minLength, maxLength, and"
                + " annotations)");
      }
    }
    if (schema.has("const")) {
      return literals(List.of(schema.get("const")), schema, path);
    }
    if (schema.has("enum")) {
      JsonNode values = schema.get("enum");
      if (!values.isArray() || values.isEmpty()) {
        throw refuse(path + "/enum", "enum must be a non-empty list");
      }
      List<JsonNode> list = new ArrayList<>();
      values.forEach(list::add);
      return literals(list, schema, path);
    }
    if (schema.has("anyOf")) {
      JsonNode alts = schema.get("anyOf");
      if (!alts.isArray() || alts.isEmpty()) {
        throw refuse(path + "/anyOf", "anyOf must be a non-empty list of schemas");
      }
      if (schema.has("type") || schema.has("properties") || schema.has("items")) {
        throw refuse(path, "anyOf beside type, properties or items is not supported");
      }
      List<Fragment> parts = new ArrayList<>();
      for (int i = 0; i < alts.size(); i++) {
        parts.add(value(alts.get(i), path + "/anyOf/" + i));
      }
      return nfa.union(parts);
    }
    JsonNode type = schema.get("type");
    if (type == null) {
      if (schema.has("properties")) {
        return object(schema, path);
      }
      if (schema.has("items")) {
        return array(schema, path);
      }
      return anyValue(ANY_VALUE_DEPTH);
    }
    if (type.isArray()) {
      if (type.isEmpty()) {
        throw refuse(path + "/type", "type must name at least one type");
      }
      List<Fragment> parts = new ArrayList<>();
      for (JsonNode t : type) {
        parts.add(typed(schema, t, path));
      }
      return nfa.union(parts);
    }
    return typed(schema, type, path);
  }

  private Fragment typed(JsonNode schema, JsonNode type, String path) {
    if (!type.isTextual() || !TYPES.contains(type.asText())) {
      throw refuse(path + "/type", "type must be one of " + new java.util.TreeSet<>(TYPES));
    }
    return switch (type.asText()) {
      case "string" -> boundedString(schema, path);
      case "number" -> number(true);
      case "integer" -> number(false);
      case "boolean" -> nfa.union(List.of(nfa.literal("true"), nfa.literal("false")));
      case "null" -> nfa.literal("null");
      case "object" -> object(schema, path);
      default -> array(schema, path);
    };
  }

  private Fragment boundedString(JsonNode schema, String path) {
    int min = length(schema, "minLength", path, 0);
    int max = length(schema, "maxLength", path, -1);
    if (max >= 0 && max < min) {
      throw refuse(path, "maxLength is below minLength");
    }
    return string(min, max);
  }

  private int length(JsonNode schema, String keyword, String path, int absent) {
    JsonNode v = schema.get(keyword);
    if (v == null) {
      return absent;
    }
    if (!v.canConvertToInt() || !v.isIntegralNumber() || v.asInt() < 0 || v.asInt() > MAX_LENGTH) {
      throw refuse(path + "/" + keyword, keyword + " must be an integer in 0.." + MAX_LENGTH);
    }
    return v.asInt();
  }

  private Fragment literals(List<JsonNode> values, JsonNode schema, String path) {
    List<Fragment> parts = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    for (JsonNode v : values) {
      if (schema.has("type") && !typeAllows(schema.get("type"), v)) {
        throw refuse(path, "value " + v + " is not of the schema's type " + schema.get("type"));
      }
      String text = compact(v);
      if (seen.add(text)) {
        parts.add(nfa.literal(text));
      }
    }
    return nfa.union(parts);
  }

  private static boolean typeAllows(JsonNode type, JsonNode v) {
    if (type.isArray()) {
      for (JsonNode t : type) {
        if (typeAllows(t, v)) {
          return true;
        }
      }
      return false;
    }
    return switch (type.asText()) {
      case "string" -> v.isTextual();
      case "number" -> v.isNumber();
      case "integer" -> v.isIntegralNumber();
      case "boolean" -> v.isBoolean();
      case "null" -> v.isNull();
      case "object" -> v.isObject();
      case "array" -> v.isArray();
      default -> false;
    };
  }

  private Fragment object(JsonNode schema, String path) {
    JsonNode properties = schema.path("properties");
    JsonNode additional = schema.get("additionalProperties");
    if (additional != null && !additional.isBoolean()) {
      throw refuse(path + "/additionalProperties", "additionalProperties must be a boolean");
    }
    if (!schema.has("properties")) {
      if (schema.has("required") && !schema.get("required").isEmpty()) {
        throw refuse(path + "/required", "required names properties the schema does not declare");
      }
      return additional != null && !additional.asBoolean()
          ? nfa.literal("{}")
          : anyObject(ANY_VALUE_DEPTH);
    }
    if (!properties.isObject()) {
      throw refuse(path + "/properties", "properties must be an object");
    }
    Set<String> required = new HashSet<>();
    JsonNode req = schema.path("required");
    if (!req.isMissingNode()) {
      if (!req.isArray()) {
        throw refuse(path + "/required", "required must be a list of property names");
      }
      for (JsonNode r : req) {
        if (!r.isTextual() || !properties.has(r.asText())) {
          throw refuse(path + "/required", "required names " + r + ", not a declared property");
        }
        required.add(r.asText());
      }
    }
    // Two tracks of states between properties: before (none) and after (some) a first member,
    // which decides whether the next member needs a comma.
    int start = nfa.newState();
    int end = nfa.newState();
    int[] none = {nfa.newState()};
    int[] some = {-1};
    Fragment open = nfa.literal("{");
    nfa.epsilon(start, open.start());
    nfa.epsilon(open.end(), none[0]);
    for (Iterator<String> it = properties.fieldNames(); it.hasNext(); ) {
      String name = it.next();
      String propPath = path + "/properties/" + name;
      boolean optional = !required.contains(name);
      int nextNone = optional && none[0] >= 0 ? nfa.newState() : -1;
      int nextSome = nfa.newState();
      if (none[0] >= 0) {
        Fragment member =
            nfa.then(
                nfa.then(nfa.literal(compact(name) + ":"), space()),
                value(properties.get(name), propPath));
        nfa.epsilon(none[0], member.start());
        nfa.epsilon(member.end(), nextSome);
        if (optional) {
          nfa.epsilon(none[0], nextNone);
        }
      }
      if (some[0] >= 0) {
        Fragment member =
            nfa.then(
                nfa.then(nfa.then(nfa.literal(","), space()), nfa.literal(compact(name) + ":")),
                nfa.then(space(), value(properties.get(name), propPath)));
        nfa.epsilon(some[0], member.start());
        nfa.epsilon(member.end(), nextSome);
        if (optional) {
          nfa.epsilon(some[0], nextSome);
        }
      }
      none[0] = nextNone;
      some[0] = nextSome;
    }
    for (int track : new int[] {none[0], some[0]}) {
      if (track >= 0) {
        Fragment close = nfa.literal("}");
        nfa.epsilon(track, close.start());
        nfa.epsilon(close.end(), end);
      }
    }
    return new Fragment(start, end);
  }

  private Fragment array(JsonNode schema, String path) {
    JsonNode items = schema.get("items");
    if (items == null) {
      return list(() -> anyValue(ANY_VALUE_DEPTH - 1), "[", "]");
    }
    if (!items.isObject() && !items.isBoolean()) {
      throw refuse(path + "/items", "items must be one schema (tuple forms are not supported)");
    }
    return list(() -> value(items, path + "/items"), "[", "]");
  }

  // --- unconstrained JSON --------------------------------------------------------------------

  private Fragment anyValue(int depth) {
    List<Fragment> parts = new ArrayList<>();
    parts.add(string());
    parts.add(number(true));
    parts.add(nfa.literal("true"));
    parts.add(nfa.literal("false"));
    parts.add(nfa.literal("null"));
    if (depth > 0) {
      parts.add(anyObject(depth));
      parts.add(list(() -> anyValue(depth - 1), "[", "]"));
    }
    return nfa.union(parts);
  }

  private Fragment anyObject(int depth) {
    return list(
        () ->
            nfa.then(nfa.then(string(), nfa.literal(":")), nfa.then(space(), anyValue(depth - 1))),
        "{",
        "}");
  }

  /** open (element (, element)*)? close, with one copy of the element looped. */
  private Fragment list(java.util.function.Supplier<Fragment> element, String open, String close) {
    Fragment o = nfa.literal(open);
    int end = nfa.newState();
    Fragment emptyClose = nfa.literal(close);
    nfa.epsilon(o.end(), emptyClose.start());
    nfa.epsilon(emptyClose.end(), end);
    Fragment e = element.get();
    nfa.epsilon(o.end(), e.start());
    Fragment sep = nfa.then(nfa.literal(","), space());
    nfa.epsilon(e.end(), sep.start());
    nfa.epsilon(sep.end(), e.start());
    Fragment c = nfa.literal(close);
    nfa.epsilon(e.end(), c.start());
    nfa.epsilon(c.end(), end);
    return new Fragment(o.start(), end);
  }

  // --- scalars -------------------------------------------------------------------------------

  /** An optional single space. */
  private Fragment space() {
    return nfa.optional(nfa.literal(" "));
  }

  private Fragment string() {
    return string(0, -1);
  }

  /** A string of {@code min..max} characters ({@code max} -1: no bound). */
  private Fragment string(int min, int max) {
    Fragment open = nfa.literal("\"");
    int at = open.end();
    for (int i = 0; i < min; i++) {
      Fragment c = character();
      nfa.epsilon(at, c.start());
      at = c.end();
    }
    if (max < 0) {
      Fragment c = character();
      nfa.epsilon(at, c.start());
      nfa.epsilon(c.end(), at);
    } else {
      int end = nfa.newState();
      nfa.epsilon(at, end);
      for (int i = min; i < max; i++) {
        Fragment c = character();
        nfa.epsilon(at, c.start());
        nfa.epsilon(c.end(), end);
        at = c.end();
      }
      at = end;
    }
    Fragment close = nfa.literal("\"");
    nfa.epsilon(at, close.start());
    return new Fragment(open.start(), close.end());
  }

  /** One character of a JSON string: printable ASCII, well-formed UTF-8, or an escape. */
  private Fragment character() {
    int body = nfa.newState();
    int end = nfa.newState();
    nfa.range(body, 0x20, 0x21, end);
    nfa.range(body, 0x23, 0x5b, end);
    nfa.range(body, 0x5d, 0x7f, end);
    // well-formed UTF-8: lead byte, then continuation bytes (the second one's range per lead)
    int cont1 = nfa.newState();
    int cont2 = nfa.newState();
    nfa.range(cont1, 0x80, 0xbf, end);
    nfa.range(cont2, 0x80, 0xbf, cont1);
    nfa.range(body, 0xc2, 0xdf, cont1);
    int e0 = nfa.newState();
    int ed = nfa.newState();
    nfa.range(body, 0xe0, 0xe0, e0);
    nfa.range(e0, 0xa0, 0xbf, cont1);
    nfa.range(body, 0xe1, 0xec, cont2);
    nfa.range(body, 0xed, 0xed, ed);
    nfa.range(ed, 0x80, 0x9f, cont1);
    nfa.range(body, 0xee, 0xef, cont2);
    int cont3 = nfa.newState();
    nfa.range(cont3, 0x80, 0xbf, cont2);
    int f0 = nfa.newState();
    int f4 = nfa.newState();
    nfa.range(body, 0xf0, 0xf0, f0);
    nfa.range(f0, 0x90, 0xbf, cont2);
    nfa.range(body, 0xf1, 0xf3, cont3);
    nfa.range(body, 0xf4, 0xf4, f4);
    nfa.range(f4, 0x80, 0x8f, cont2);
    // escapes: \" \\ \/ \b \f \n \r \t, and \\u with four hex digits outside D800..DFFF
    int escape = nfa.newState();
    nfa.range(body, '\\', '\\', escape);
    for (char c : "\"\\/bfnrt".toCharArray()) {
      nfa.range(escape, c, c, end);
    }
    int u0 = nfa.newState();
    int u1 = nfa.newState();
    int u2 = nfa.newState();
    int u3 = nfa.newState();
    nfa.range(escape, 'u', 'u', u0);
    nfa.range(u0, '0', '9', u1);
    nfa.range(u0, 'a', 'c', u1);
    nfa.range(u0, 'A', 'C', u1);
    nfa.range(u0, 'e', 'f', u1);
    nfa.range(u0, 'E', 'F', u1);
    hex(u1, u2);
    hex(u2, u3);
    hex(u3, end);
    return new Fragment(body, end);
  }

  private void hex(int from, int to) {
    nfa.range(from, '0', '9', to);
    nfa.range(from, 'a', 'f', to);
    nfa.range(from, 'A', 'F', to);
  }

  /** -?(0|[1-9][0-9]*), then with {@code fraction} (\.[0-9]+)?([eE][+-]?[0-9]+)?. */
  private Fragment number(boolean fraction) {
    int start = nfa.newState();
    int sign = nfa.newState();
    int intPart = nfa.newState(); // accepting: at least one digit read
    int zero = nfa.newState();
    int end = nfa.newState();
    nfa.epsilon(start, sign);
    nfa.range(start, '-', '-', sign);
    nfa.range(sign, '0', '0', zero);
    nfa.range(sign, '1', '9', intPart);
    nfa.range(intPart, '0', '9', intPart);
    nfa.epsilon(intPart, end);
    nfa.epsilon(zero, end);
    if (fraction) {
      int dot = nfa.newState();
      int frac = nfa.newState();
      nfa.range(intPart, '.', '.', dot);
      nfa.range(zero, '.', '.', dot);
      nfa.range(dot, '0', '9', frac);
      nfa.range(frac, '0', '9', frac);
      nfa.epsilon(frac, end);
      int e = nfa.newState();
      int eSign = nfa.newState();
      int exp = nfa.newState();
      for (int from : new int[] {intPart, zero, frac}) {
        nfa.range(from, 'e', 'e', e);
        nfa.range(from, 'E', 'E', e);
      }
      nfa.epsilon(e, eSign);
      nfa.range(e, '+', '+', eSign);
      nfa.range(e, '-', '-', eSign);
      nfa.range(eSign, '0', '9', exp);
      nfa.range(exp, '0', '9', exp);
      nfa.epsilon(exp, end);
    }
    return new Fragment(start, end);
  }

  // --- helpers -------------------------------------------------------------------------------

  private static String compact(Object value) {
    try {
      return JSON.writeValueAsString(value);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException("a JSON value always serializes", e);
    }
  }

  private SchemaException refuse(String path, String message) {
    return new SchemaException(field, (path.isEmpty() ? "" : "at " + path + ": ") + message);
  }
}
