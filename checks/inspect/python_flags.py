"""The command-line flags a Python script accepts, read from its source (never run).

Pipelines define flags in many ways besides `parser.add_argument("--x")`: click and typer
decorators and parameters, absl's `flags.DEFINE_*`, fire (any parameter of the function it
exposes), and Apache Beam, whose PipelineOptions accept a fixed set of standard options when the
script passes the arguments it does not know on to them.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

__all__ = ["BEAM_STANDARD_OPTIONS", "FlagFacts", "collect_flags", "option_strings_in"]

#: Call names whose string arguments starting with "-" are options: argparse (and Beam's
#: `add_value_provider_argument`), click and typer.
_OPTION_CALLS = frozenset({"add_argument", "add_value_provider_argument", "option", "Option", "argument"})

#: Every option Beam's own PipelineOptions classes define: the add_argument calls of
#: apache_beam/options/pipeline_options.py (apache-beam 2.60.0), read with ast. A flag outside
#: this set and the script's own is silently ignored by Beam (it parses with parse_known_args).
BEAM_STANDARD_OPTIONS = frozenset(
    {
        "--allow_non_deterministic_key_coders", "--allow_unsafe_triggers", "--artifact_endpoint",
        "--artifact_port", "--artifacts_dir", "--auto_unique_labels", "--autoscaling_algorithm",
        "--azure_connection_string", "--azure_managed_identity_client_id", "--beam_plugin",
        "--beam_plugins", "--beam_services", "--blob_service_endpoint", "--cloud_build_machine_type",
        "--create_from_snapshot", "--dataflow_endpoint", "--dataflow_job_file", "--dataflow_kms_key",
        "--dataflow_service_option", "--dataflow_service_options", "--default_sdk_harness_log_level",
        "--direct_embed_docker_python", "--direct_num_workers", "--direct_runner_bundle_repeat",
        "--direct_running_mode", "--direct_test_splits", "--disk_size_gb", "--disk_type",
        "--docker_registry_push_url", "--dry_run", "--enable_artifact_caching",
        "--enable_bucket_read_metric_counter", "--enable_bucket_write_metric_counter",
        "--enable_gcsio_blob_generation", "--enable_hot_key_logging", "--enable_streaming_engine",
        "--environment_cache_millis", "--environment_config", "--environment_option",
        "--environment_options", "--environment_type", "--expansion_port", "--experiment", "--experiments",
        "--extra_package", "--extra_packages", "--flexrs_goal", "--flink_job_server_jar", "--flink_master",
        "--flink_submit_uber_jar", "--flink_version", "--gcp_oauth_scope", "--gcp_oauth_scopes",
        "--hdfs_full_urls", "--hdfs_host", "--hdfs_port", "--hdfs_user", "--impersonate_service_account",
        "--job-server-timeout", "--job_endpoint", "--job_name", "--job_port", "--job_server_java_launcher",
        "--job_server_jvm_properties", "--job_server_jvm_property", "--job_server_timeout", "--label",
        "--labels", "--machine_type", "--max_cache_memory_usage_mb", "--max_num_workers",
        "--max_parallelism", "--min_cpu_platform", "--network", "--no_auth",
        "--no_direct_runner_use_stacked_bundle", "--no_gcsio_throttling_counter",
        "--no_pipeline_type_check", "--no_use_public_ips", "--no_wait_until_finish", "--num_workers",
        "--number_of_worker_harness_threads", "--on_success_matcher", "--output_executable_path",
        "--parallelism", "--performance_runtime_type_check", "--pickle_library",
        "--prebuild_sdk_container_base_image", "--prebuild_sdk_container_engine",
        "--prism_beam_version_override", "--prism_location", "--profile_cpu", "--profile_location",
        "--profile_memory", "--profile_sample_rate", "--project", "--pubsub_root_url", "--region",
        "--requirements_cache", "--requirements_cache_only_sources", "--requirements_file",
        "--resource_hint", "--resource_hints", "--runner", "--runtime_type_check", "--s3_access_key_id",
        "--s3_api_version", "--s3_disable_ssl", "--s3_endpoint_url", "--s3_region_name",
        "--s3_secret_access_key", "--s3_session_token", "--s3_verify", "--save_main_session",
        "--sdk_container_image", "--sdk_harness_container_image_overrides",
        "--sdk_harness_log_level_overrides", "--sdk_location", "--sdk_worker_parallelism",
        "--service_account_email", "--setup_file", "--spark_job_server_jar", "--spark_master_url",
        "--spark_rest_url", "--spark_submit_uber_jar", "--spark_version", "--staging_location",
        "--streaming", "--subnetwork", "--temp_location", "--template_location", "--transform_name_mapping",
        "--type_check_additional", "--type_check_strictness", "--update", "--update_compatibility_version",
        "--use_public_ips", "--use_transform_service", "--wait_until_finish_duration", "--worker_disk_type",
        "--worker_harness_container_image", "--worker_machine_type", "--worker_region", "--worker_zone",
        "--zone",
    }
)  # fmt: skip

#: absl definitions that also accept `--noname`.
_ABSL_BOOLEANS = frozenset({"DEFINE_bool", "DEFINE_boolean"})


@dataclass(frozen=True, slots=True)
class FlagFacts:
    #: Option strings the script accepts.
    flags: tuple[str, ...] = ()
    #: The script hands its unknown arguments to Beam's PipelineOptions.
    uses_beam_options: bool = False
    #: fire.Fire exposes functions: every parameter name is a flag.
    uses_fire: bool = False
    #: Classes a fire target builds from its `**kwargs` (`Params(**kwargs)`): their fields are flags.
    kwargs_classes: tuple[str, ...] = ()
    #: Annotated fields of the classes the file defines (pydantic models, dataclasses).
    class_fields: tuple[tuple[str, tuple[str, ...]], ...] = ()


def collect_flags(tree: ast.Module) -> FlagFacts:
    flags: list[str] = []
    params: list[str] = []
    typer_commands: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
    typer_run: set[str] = set()
    beam = False
    known_args = False
    strict_args = False
    fire = False
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    kwargs_classes: list[str] = []
    class_fields: list[tuple[str, tuple[str, ...]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            fields = tuple(
                n.target.id
                for n in node.body
                if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
            )
            class_fields.append((node.name, fields))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            functions[node.name] = node
            params.extend(a.arg for a in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs))
            if any(_is_typer_command(d) for d in node.decorator_list):
                typer_commands.append(node)
        elif isinstance(node, ast.Call):
            name = _call_name(node)
            if name in _OPTION_CALLS:
                flags.extend(_option_strings(node))
            elif name.startswith("DEFINE_") and node.args:
                flags.extend(_absl_flags(name, node.args[0]))
            elif name == "parse_known_args":
                known_args = True
            elif name == "parse_args":
                strict_args = True
            elif name == "Fire":
                fire = True
                if node.args and isinstance(node.args[0], ast.Lambda):
                    params.extend(a.arg for a in node.args[0].args.args)
                    kwargs_classes.extend(_kwargs_targets(node.args[0]))
            elif name == "run" and _dotted(node.func) == "typer.run" and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Name):
                    typer_run.add(arg.id)
        elif (isinstance(node, ast.Name) and node.id == "PipelineOptions") or (
            isinstance(node, ast.Attribute) and node.attr == "PipelineOptions"
        ):
            beam = True
    for fn_name in typer_run:
        if fn_name in functions:
            typer_commands.append(functions[fn_name])
    for fn in typer_commands:
        flags.extend(_typer_options(fn))
    # Beam's options read what argparse leaves over (parse_known_args) or the whole command
    # line (no argparse at all); a strict parse_args would refuse them first.
    uses_beam = beam and (known_args or not strict_args)
    if uses_beam:
        flags.extend(sorted(BEAM_STANDARD_OPTIONS))
    if fire:
        for param in params:
            if param not in ("self", "cls"):
                flags.extend((f"--{param}", f"--{param.replace('_', '-')}"))
    return FlagFacts(
        tuple(dict.fromkeys(flags)),
        uses_beam,
        fire,
        tuple(dict.fromkeys(kwargs_classes)),
        tuple(class_fields),
    )


def option_strings_in(text: str) -> frozenset[str]:
    """Every option string a module's add_argument calls define (used on Beam's own options file
    in the pipeline's environment, so its version's options count). Parsed, never imported."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return frozenset()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _call_name(node) in ("add_argument", "add_value_provider_argument"):
            found.update(_option_strings(node))
    return frozenset(found)


def _kwargs_targets(fn: ast.Lambda) -> list[str]:
    """Callables a fire lambda hands its `**kwargs` to: `lambda **kw: main(Params(**kw))` -> Params."""
    kwarg = fn.args.kwarg
    if kwarg is None:
        return []
    found: list[str] = []
    for node in ast.walk(fn.body):
        if isinstance(node, ast.Call) and any(
            k.arg is None and isinstance(k.value, ast.Name) and k.value.id == kwarg.arg for k in node.keywords
        ):
            found.append(_call_name(node))
    return found or ["**"]  # "**": the keywords go somewhere we cannot follow


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else node.attr
    return ""


def _call_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _option_strings(call: ast.Call) -> list[str]:
    found: list[str] = []
    for arg in call.args:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.startswith("-"):
            # click: "--cache/--no-cache" is two flags; "-v" stays one.
            found.extend(part.strip() for part in arg.value.split("/") if part.strip().startswith("-"))
    return found


def _absl_flags(define: str, name: ast.expr) -> list[str]:
    if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
        return []
    flags = [f"--{name.value}"]
    if define in _ABSL_BOOLEANS:
        flags.append(f"--no{name.value}")
    return flags


def _is_typer_command(decorator: ast.expr) -> bool:
    call = decorator.func if isinstance(decorator, ast.Call) else decorator
    return isinstance(call, ast.Attribute) and call.attr in ("command", "callback")


def _typer_options(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    """typer: a parameter with a default is an option `--name-with-dashes`; a bool also `--no-`."""
    args = [*fn.args.args, *fn.args.kwonlyargs]
    defaults: list[ast.expr | None] = [None] * (len(fn.args.args) - len(fn.args.defaults))
    defaults += [*fn.args.defaults, *fn.args.kw_defaults]
    flags: list[str] = []
    for arg, default in zip(args, defaults, strict=True):
        if default is None or _is_typer_argument(default):
            continue
        if isinstance(default, ast.Call) and any(
            isinstance(a, ast.Constant) and isinstance(a.value, str) and a.value.startswith("-")
            for a in default.args
        ):
            continue  # typer.Option("--custom"): its own strings were collected
        option = "--" + arg.arg.replace("_", "-")
        flags.append(option)
        if _is_bool(arg.annotation):
            flags.append("--no-" + arg.arg.replace("_", "-"))
    return flags


def _is_typer_argument(default: ast.expr) -> bool:
    return isinstance(default, ast.Call) and _call_name(default) == "Argument"


def _is_bool(annotation: ast.expr | None) -> bool:
    if isinstance(annotation, ast.Name):
        return annotation.id == "bool"
    if isinstance(annotation, ast.Constant):
        return annotation.value == "bool"
    if isinstance(annotation, ast.Subscript) and _dotted(annotation.value).endswith("Annotated"):
        first = annotation.slice.elts[0] if isinstance(annotation.slice, ast.Tuple) else annotation.slice
        return _is_bool(first)
    return False
