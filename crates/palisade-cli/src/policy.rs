//! `palisade policy …`: validate policy files, decide and explain requests,
//! list a principal's permissions and who may perform an action.
//!
//! Resources are written `Type:id` (or `Type` for any resource of the type).
//! A resource's owner comes from `--owner`, or else from the policy file's
//! `[resources."Type:id"]` table. The context is a JSON object of strings,
//! integers and booleans.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use palisade_rbac::{Access, Context, Error, Outcome, Policy, Request, Resource, Severity};

use crate::{CliResult, Failure};

/// Policy subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Check a policy file against its schema; exit 1 listing every problem
    Validate {
        /// The policy file (TOML)
        file: PathBuf,
        /// Print one JSON object: {"valid", "problems": [{"severity", "line", "column", "message"}]}
        #[arg(long)]
        json: bool,
    },
    /// Decide a request: print `allow` (exit 0) or `deny` (exit 1)
    Check {
        #[command(flatten)]
        target: Target,
        /// The principal asking
        #[arg(long)]
        principal: String,
        /// Also print the outcome, the deciding rules and the field rights
        #[arg(long)]
        explain: bool,
        /// Print one JSON object: {"outcome", "allowed", "fields"}, with --explain also "rules" and "summary"
        #[arg(long)]
        json: bool,
    },
    /// Everything a principal may do ("log in as that user")
    Permissions {
        /// The policy file (TOML)
        #[arg(long)]
        policy: PathBuf,
        /// The principal
        #[arg(long)]
        principal: String,
        /// Only this tenant (default: rights held everywhere, then each tenant of the principal)
        #[arg(long)]
        tenant: Option<String>,
        /// Print one JSON object: {"principal", "blocked", "tenants": [{"tenant", "permissions", "fields"}]}
        #[arg(long)]
        json: bool,
    },
    /// Who may perform an action on a resource
    WhoCan {
        #[command(flatten)]
        target: Target,
        /// Print a JSON array: [{"principal", "tenant"}]
        #[arg(long)]
        json: bool,
    },
}

/// The parts of a request other than the principal.
#[derive(Debug, Args)]
pub(crate) struct Target {
    /// The policy file (TOML)
    #[arg(long)]
    policy: PathBuf,
    /// The action, e.g. `read`
    #[arg(long)]
    action: String,
    /// The resource, `Type:id` or `Type`
    #[arg(long)]
    resource: String,
    /// The resource's owner (overrides the policy file)
    #[arg(long)]
    owner: Option<String>,
    /// The tenant the request is made in
    #[arg(long)]
    tenant: Option<String>,
    /// Request context as a JSON object, e.g. '{"rows": 20}'
    #[arg(long)]
    context: Option<String>,
}

fn read(path: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map_err(|e| Failure::input(format!("cannot read `{}`: {e}", path.display())))
}

/// Loads a policy; problems in the file are input errors here (exit 2).
fn load(path: &Path) -> Result<Policy, Failure> {
    let text = read(path)?;
    Policy::from_toml(&text).map_err(|e| Failure::input(format!("`{}`: {e}", path.display())))
}

fn context(target: &Target) -> Result<Option<Context>, Failure> {
    target
        .context
        .as_deref()
        .map(Context::from_json)
        .transpose()
        .map_err(Failure::input)
}

fn resource(target: &Target) -> Result<Resource<'_>, Failure> {
    let resource = Resource::parse(&target.resource).map_err(Failure::input)?;
    Ok(match &target.owner {
        Some(owner) => resource.owned_by(owner),
        None => resource,
    })
}

pub(crate) fn run(command: Command) -> CliResult {
    match command {
        Command::Validate { file, json } => validate(&file, json),
        Command::Check {
            target,
            principal,
            explain,
            json,
        } => check(&target, &principal, explain, json),
        Command::Permissions {
            policy,
            principal,
            tenant,
            json,
        } => {
            if json {
                permissions_json(&policy, &principal, tenant.as_deref())
            } else {
                permissions(&policy, &principal, tenant.as_deref())
            }
        }
        Command::WhoCan { target, json } => who_can(&target, json),
    }
}

/// A policy problem as JSON: the shape `retention validate --json` prints.
fn problem_json(problem: &palisade_rbac::Problem) -> serde_json::Value {
    serde_json::json!({
        "severity": severity(problem.severity),
        "line": problem.line,
        "column": problem.column,
        "message": problem.message,
    })
}

fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn print_json(value: &impl serde::Serialize) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, value).map_err(|e| Failure::output(&e.into()))?;
    writeln!(out).map_err(|e| Failure::output(&e))
}

fn validate(path: &Path, json: bool) -> CliResult {
    let text = read(path)?;
    let shown = path.display();
    if json {
        let problems = match Policy::from_toml(&text) {
            Ok(_) => Vec::new(),
            Err(Error::PolicyInvalid(problems)) => problems,
            Err(other) => return Err(Failure::input(other)),
        };
        let valid = problems.is_empty();
        print_json(&serde_json::json!({
            "valid": valid,
            "problems": problems.iter().map(problem_json).collect::<Vec<_>>(),
        }))?;
        return Ok(if valid {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    match Policy::from_toml(&text) {
        Ok(policy) => {
            println!(
                "valid: {} roles, {} principals, {} tenants",
                policy.roles().count(),
                policy.principals().count(),
                policy.tenants().count()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(Error::PolicyInvalid(problems)) => {
            for problem in &problems {
                let place = match (problem.line, problem.column) {
                    (Some(line), Some(column)) => format!("{shown}:{line}:{column}"),
                    (Some(line), None) => format!("{shown}:{line}"),
                    _ => format!("{shown}"),
                };
                println!(
                    "{place}: {}: {}",
                    severity(problem.severity),
                    problem.message
                );
            }
            Err(Failure::verdict(format!(
                "`{shown}` is invalid: {} problem{}",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" }
            )))
        }
        Err(other) => Err(Failure::input(other)),
    }
}

fn check(target: &Target, principal: &str, explain: bool, json: bool) -> CliResult {
    let policy = load(&target.policy)?;
    let context = context(target)?;
    let mut request = Request::new(principal, &target.action, resource(target)?);
    if let Some(tenant) = &target.tenant {
        request = request.in_tenant(tenant);
    }
    if let Some(context) = &context {
        request = request.with_context(context);
    }
    // An undeclared tenant is malformed input (exit 2), not a refusal.
    let decision = policy.decide(&request).map_err(Failure::input)?;
    let code = if decision.is_allowed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    };
    if json {
        let mut value = serde_json::to_value(decision).map_err(Failure::input)?;
        if explain {
            let explanation = policy.explain(&request).map_err(Failure::input)?;
            if let Some(object) = value.as_object_mut() {
                object.insert("rules".into(), serde_json::json!(explanation.rules));
                object.insert("summary".into(), explanation.summary.into());
            }
        }
        print_json(&value)?;
        return Ok(code);
    }
    println!(
        "{}",
        if decision.is_allowed() {
            "allow"
        } else {
            "deny"
        }
    );
    if explain {
        let explanation = policy.explain(&request).map_err(Failure::input)?;
        println!(
            "outcome: {}",
            match explanation.outcome {
                Outcome::Allow => "allowed",
                Outcome::Forbidden => "forbidden",
                Outcome::NotPermitted => "not permitted",
            }
        );
        println!("reason: {}", explanation.summary);
        for rule in &explanation.rules {
            println!("rule: {rule}");
        }
        for field in decision.fields() {
            println!("field {}: {}", field.field, field.visibility);
        }
    }
    Ok(if decision.is_allowed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn permissions(path: &Path, principal: &str, tenant: Option<&str>) -> CliResult {
    let policy = load(path)?;
    let tenants: Vec<Option<&str>> = match tenant {
        Some(t) => vec![Some(t)],
        None => std::iter::once(None)
            .chain(policy.tenants_of(principal).into_iter().map(Some))
            .collect(),
    };
    if policy.is_blocked(principal) {
        println!("principal `{principal}` is blocked: every action is forbidden");
        return Ok(ExitCode::SUCCESS);
    }
    for tenant in tenants {
        let list = policy
            .permissions(principal, tenant)
            .map_err(Failure::input)?;
        match tenant {
            Some(t) => println!("in tenant {t}:"),
            None => println!("in every tenant:"),
        }
        if list.is_empty() {
            println!("  (nothing)");
        }
        let mut types = Vec::new();
        for permission in &list {
            let action = format!("{}:{}", permission.resource_type, permission.action);
            match &permission.access {
                Access::Allowed => println!("  allow   {action}"),
                Access::Forbidden => println!("  forbid  {action}"),
                Access::Conditional { allow_if, deny_if } => {
                    let mut line = format!("  allow   {action} if {}", allow_if.join(" or "));
                    if !deny_if.is_empty() {
                        line.push_str(&format!(", unless {}", deny_if.join(" or ")));
                    }
                    println!("{line}");
                }
            }
            if permission.access != Access::Forbidden && !types.contains(&permission.resource_type)
            {
                types.push(permission.resource_type);
            }
        }
        for ty in types {
            let fields = policy
                .field_rights_of(principal, tenant, ty)
                .map_err(Failure::input)?;
            if fields.is_empty() {
                continue;
            }
            let shown: Vec<String> = fields
                .iter()
                .map(|f| format!("{} {}", f.field, f.visibility))
                .collect();
            println!("  fields  {ty}: {}", shown.join(", "));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn who_can(target: &Target, json: bool) -> CliResult {
    let policy = load(&target.policy)?;
    let context = context(target)?;
    let grantees = policy
        .who_can(
            &target.action,
            resource(target)?,
            target.tenant.as_deref(),
            context.as_ref(),
        )
        .map_err(Failure::input)?;
    if json {
        print_json(&grantees)?;
        return Ok(ExitCode::SUCCESS);
    }
    for grantee in grantees {
        match grantee.tenant {
            Some(t) => println!("{} (tenant {t})", grantee.principal),
            None => println!("{} (every tenant)", grantee.principal),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `permissions --json`: the same lists as the text form, per tenant.
fn permissions_json(path: &Path, principal: &str, tenant: Option<&str>) -> CliResult {
    let policy = load(path)?;
    let blocked = policy.is_blocked(principal);
    let tenants: Vec<Option<&str>> = match tenant {
        Some(t) => vec![Some(t)],
        None => std::iter::once(None)
            .chain(policy.tenants_of(principal).into_iter().map(Some))
            .collect(),
    };
    let mut out = Vec::new();
    for tenant in tenants {
        let list = if blocked {
            Vec::new()
        } else {
            policy
                .permissions(principal, tenant)
                .map_err(Failure::input)?
        };
        let mut fields = serde_json::Map::new();
        for permission in list.iter().filter(|p| p.access != Access::Forbidden) {
            let ty = permission.resource_type;
            if fields.contains_key(ty) {
                continue;
            }
            let rights = policy
                .field_rights_of(principal, tenant, ty)
                .map_err(Failure::input)?;
            if !rights.is_empty() {
                fields.insert(ty.to_owned(), serde_json::json!(rights));
            }
        }
        out.push(serde_json::json!({
            "tenant": tenant,
            "permissions": list,
            "fields": fields,
        }));
    }
    print_json(&serde_json::json!({
        "principal": principal,
        "blocked": blocked,
        "tenants": out,
    }))?;
    Ok(ExitCode::SUCCESS)
}
