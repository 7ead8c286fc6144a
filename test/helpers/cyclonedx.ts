import { Spec, Validation } from '@cyclonedx/cyclonedx-library';

// The CycloneDX project's own strict JSON validator (its bundled schemas, ajv underneath:
// no network). A test dependency only: the plugin writes its SBOM by hand (docs/sources.md).
const validator = new Validation.JsonStrictValidator(Spec.Version.v1dot6);

/** The schema's complaints about `text` as a CycloneDX 1.6 JSON BOM; null when it is valid. */
export async function cyclonedxSchemaErrors(text: string): Promise<unknown> {
  return validator.validate(text);
}
