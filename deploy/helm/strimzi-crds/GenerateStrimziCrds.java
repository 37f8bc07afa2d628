// CustomResourceDefinitions for the Strimzi kinds the chart renders (Kafka, KafkaNodePool, KafkaTopic), derived
// offline from Strimzi's own Java API model (io.strimzi:api on Maven Central), for kubectl-validate.
//   java -cp '<libs>/*' deploy/helm/strimzi-crds/GenerateStrimziCrds.java <output dir>
// (Java 11+ runs a single source file directly, JEP 330.) Run by deploy/helm/check.sh; the output is not committed.
//
// Why derived: Strimzi publishes its CRD YAML only with its GitHub releases (strimzi-crds-<version>.yaml), which
// this project's machines cannot reach, and its own generator (the crd-generator module) is not on Maven Central.
// The api jar does carry the model the operator deserializes a resource into, with its Jackson annotations, and
// io.strimzi.api.kafka.Crds names each kind's served versions. So the schema is what Jackson itself would read:
// every property of every bean, its type, enum values, and the union of the subtypes of a polymorphic type
// (@JsonSubTypes, e.g. storage: jbod / persistent-claim / ephemeral), unknown fields refused.
// (fabric8's CRD generator was tried first: it drops the subtypes' properties, so it refused valid storage.)
//
// What this schema does NOT check, compared with Strimzi's published CRDs (check.sh prints it):
// - Strimzi's own annotations (@Minimum, @Pattern, @OneOf, @RequiredInVersions, @PresentInVersions, CEL rules):
//   no minimums, patterns, required fields or one-of constraints;
// - per-version differences: one Java class serves every API version, so each version accepts the union.
import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.introspect.BeanPropertyDefinition;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.strimzi.api.kafka.Crds;
import java.io.File;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;

public class GenerateStrimziCrds {
  static final ObjectMapper JSON = new ObjectMapper();
  static final JsonNodeFactory F = JsonNodeFactory.instance;
  static final Deque<Class<?>> PATH = new ArrayDeque<>();

  public static void main(String[] args) throws Exception {
    if (args.length != 1) {
      System.err.println("usage: GenerateStrimziCrds <output dir>");
      System.exit(2);
    }
    File out = new File(args[0]);
    out.mkdirs();
    ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
    Map<String, Supplier<CustomResourceDefinition>> kinds = Map.of(
        "Kafka", Crds::kafka, "KafkaNodePool", Crds::kafkaNodePool, "KafkaTopic", Crds::kafkaTopic);
    Map<String, Class<?>> classes = Map.of(
        "Kafka", io.strimzi.api.kafka.model.kafka.Kafka.class,
        "KafkaNodePool", io.strimzi.api.kafka.model.nodepool.KafkaNodePool.class,
        "KafkaTopic", io.strimzi.api.kafka.model.topic.KafkaTopic.class);
    for (String kind : new TreeMap<>(kinds).keySet()) {
      // Names, scope, served versions and subresources from Strimzi's Crds; its schemas there are open
      // (x-kubernetes-preserve-unknown-fields), so each version gets the schema derived below.
      ObjectNode crd = JSON.valueToTree(kinds.get(kind).get());
      ObjectNode root = F.objectNode().put("type", "object");
      ObjectNode props = root.putObject("properties");
      props.putObject("apiVersion").put("type", "string");
      props.putObject("kind").put("type", "string");
      props.putObject("metadata").put("type", "object");
      Class<?> cls = classes.get(kind);
      props.set("spec", schema(JSON.constructType(cls.getMethod("getSpec").getGenericReturnType())));
      props.set("status", schema(JSON.constructType(cls.getMethod("getStatus").getGenericReturnType())));
      for (JsonNode version : crd.path("spec").path("versions")) {
        ((ObjectNode) version).putObject("schema").set("openAPIV3Schema", root);
      }
      String file = crd.path("metadata").path("name").asText() + ".yaml";
      yaml.writeValue(new File(out, file), crd);
      StringBuilder names = new StringBuilder();
      for (JsonNode version : crd.path("spec").path("versions")) names.append(names.length() == 0 ? "" : ", ").append(version.path("name").asText());
      System.out.println("    " + file + " (derived): versions " + names);
    }
  }

  static ObjectNode schema(JavaType t) {
    Class<?> c = t.getRawClass();
    if (c == String.class || c == Character.class || c == char.class || c.getName().startsWith("java.time.")) return type("string");
    if (c == Boolean.class || c == boolean.class) return type("boolean");
    if (c == Integer.class || c == int.class || c == Long.class || c == long.class || c == Short.class || c == short.class) return type("integer");
    if (Number.class.isAssignableFrom(c) || c == double.class || c == float.class) return type("number");
    // fabric8's Quantity and IntOrString (de)serialize as "1Gi" or 2: Kubernetes' int-or-string.
    if (c == Quantity.class || c == IntOrString.class) return F.objectNode().put("x-kubernetes-int-or-string", true);
    if (c.isEnum()) {
      ObjectNode s = type("string");
      ArrayNode values = s.putArray("enum");
      for (Object constant : c.getEnumConstants()) values.add(JSON.valueToTree(constant).asText());
      return s;
    }
    if (t.isMapLikeType()) {
      JavaType v = t.getContentType();
      if (v.getRawClass() == Object.class) return freeForm();
      ObjectNode s = type("object");
      s.set("additionalProperties", schema(v));
      return s;
    }
    if (t.isCollectionLikeType() || t.isArrayType()) {
      ObjectNode s = type("array");
      s.set("items", schema(t.getContentType()));
      return s;
    }
    // Free-form values (spec.config of a topic or a broker: Map<String, Object>, JsonNode): Strimzi's CRDs declare
    // them x-kubernetes-preserve-unknown-fields; so do we. A type that contains itself is cut the same way.
    if (c == Object.class || JsonNode.class.isAssignableFrom(c) || PATH.contains(c)) return freeForm();
    PATH.push(c);
    try {
      ObjectNode s = type("object");
      ObjectNode props = s.putObject("properties");
      JsonSubTypes sub = c.getAnnotation(JsonSubTypes.class);
      if (sub == null) {
        addProperties(props, t);
      } else {
        // A polymorphic type: the union of its subtypes' properties; "type" names the subtype.
        for (JsonSubTypes.Type st : sub.value()) addProperties(props, JSON.constructType(st.value()));
        ObjectNode typeProp = type("string");
        ArrayNode names = typeProp.putArray("enum");
        for (JsonSubTypes.Type st : sub.value()) names.add(st.name());
        props.set("type", typeProp);
      }
      return s;
    } finally {
      PATH.pop();
    }
  }

  static void addProperties(ObjectNode props, JavaType t) {
    for (BeanPropertyDefinition p : JSON.getDeserializationConfig().introspect(t).findProperties()) {
      if (!p.couldDeserialize() || props.has(p.getName())) continue;
      props.set(p.getName(), schema(p.getPrimaryType()));
    }
  }

  static ObjectNode type(String name) {
    return F.objectNode().put("type", name);
  }

  static ObjectNode freeForm() {
    return F.objectNode().put("type", "object").put("x-kubernetes-preserve-unknown-fields", true);
  }
}
