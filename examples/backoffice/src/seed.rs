//! The demo tenant: one employee per seed role (second factor enrolled),
//! clients, support attachments, invoices and a legal hold.

use palisade_otp::{FactorState, RecoveryCodes, Secret, Totp};
use rand_core::{OsRng, RngCore};
use serde_json::json;
use zeroize::Zeroizing;

use crate::app::{Backoffice, OWNER_ROLE, ROLES, random_id};
use crate::attachments::NewAttachment;
use crate::clients::NewClient;
use crate::error::{Result, internal};

/// One demo employee and its secrets (shown once, at start-up).
pub struct DemoUser {
    /// Sign-in e-mail.
    pub email: String,
    /// Role in the demo tenant.
    pub role: &'static str,
    /// The employee's principal id.
    pub id: String,
    /// Password (random per seeding).
    pub password: Zeroizing<String>,
    /// Base32 TOTP secret, for an authenticator app or `palisade otp code`.
    pub totp_secret: Zeroizing<String>,
    /// One unused recovery code.
    pub recovery_code: Zeroizing<String>,
}

impl std::fmt::Debug for DemoUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoUser")
            .field("email", &self.email)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl DemoUser {
    /// The TOTP code at Unix time `now`.
    pub fn code_at(&self, now: i64) -> Result<Zeroizing<String>> {
        let secret = Secret::from_base32(&self.totp_secret).map_err(internal)?;
        Ok(Totp::new(secret).code_at(u64::try_from(now).unwrap_or(0)))
    }
}

/// What [`Backoffice::seed_demo`] created.
#[derive(Debug)]
pub struct Demo {
    /// The tenant id.
    pub tenant: String,
    /// One employee per seed role, most privileged (the owner) first.
    pub users: Vec<DemoUser>,
    /// Ids of the demo clients.
    pub clients: Vec<String>,
    /// Phone numbers of the demo clients (they must never reach a log).
    pub phones: Vec<String>,
    /// An attachment whose ticket closed 40 days ago (the sweeper deletes it).
    pub expired_attachment: String,
    /// An attachment closed as long ago but under legal hold `case-7`.
    pub held_attachment: String,
}

impl Demo {
    /// Prints the demo logins on standard output: each role's e-mail,
    /// password and TOTP secret. This prints secrets on purpose (a demo
    /// tenant's throwaway credentials); never call it for real accounts.
    pub fn print_logins(&self) {
        println!(
            "  demo tenant `{}`: {} clients; logins (password, then a TOTP code):",
            self.tenant,
            self.clients.len()
        );
        for u in &self.users {
            println!(
                "    {:<22} {:<26} password {}  totp secret {}",
                u.role,
                u.email,
                u.password.as_str(),
                u.totp_secret.as_str()
            );
        }
        println!("  a current code: echo SECRET | palisade otp code");
        println!("  (or add the secret to any authenticator app; codes are single-use)");
    }
}

impl Demo {
    /// The demo user with `role`.
    pub fn user(&self, role: &str) -> Option<&DemoUser> {
        self.users.iter().find(|u| u.role == role)
    }
}

const NAMES: [&str; 12] = [
    "Anna Kowalska",
    "Bruno Silva",
    "Chen Wei",
    "Dewi Lestari",
    "Emma Schmidt",
    "Farid Haddad",
    "Greta Nowak",
    "Hugo Martin",
    "Ivan Petrov",
    "Julia Santos",
    "Kofi Mensah",
    "Lena Fischer",
];

/// A random demo password: 96 bits in hexadecimal. Hex digits cannot spell
/// a demo user's name or e-mail word (`max`, `otto`, `acme`: each has a
/// letter past `f`), which the password policy would refuse: in base 32,
/// about one seeding in 2,000 drew a password containing `max` and failed.
fn random_password() -> Result<Zeroizing<String>> {
    let mut bytes = [0u8; 12];
    OsRng.try_fill_bytes(&mut bytes).map_err(internal)?;
    Ok(Zeroizing::new(format!(
        "demo-{}",
        data_encoding::HEXLOWER.encode(&bytes)
    )))
}

impl Backoffice {
    /// Seeds the demo tenant `tenant`: five employees (one per seed role,
    /// TOTP enrolled, random passwords), `clients` clients with Polish mobile
    /// numbers, attachments (one expired, one under legal hold) and invoices.
    pub fn seed_demo(&self, tenant: &str, clients: usize) -> Result<Demo> {
        let domain = format!("{tenant}.example");
        let owner_password = random_password()?;
        let signup = crate::auth::SignUp {
            tenant: tenant.to_owned(),
            company: format!("{tenant} support desk"),
            name: "Olivia Owner".into(),
            email: format!("olivia@{domain}"),
            password: owner_password.clone(),
        };
        let owner = self.sign_up(&signup)?;
        let owner_id = owner
            .get("user")
            .and_then(|u| u.as_str())
            .ok_or_else(|| internal("sign-up without a user"))?
            .to_owned();
        let people = [
            ("olivia", OWNER_ROLE),
            ("max", "Manager"),
            ("sofia", "Operator supervisor"),
            ("sergei", "Senior operator"),
            ("otto", "Operator"),
        ];
        let mut users = Vec::new();
        for (login, role) in people {
            let email = format!("{login}@{domain}");
            let (id, password) = if role == OWNER_ROLE {
                (owner_id.clone(), owner_password.clone())
            } else {
                let password = random_password()?;
                let mut letters = login.chars();
                let name = format!(
                    "{}{} Demo",
                    letters
                        .next()
                        .map(|c| c.to_ascii_uppercase())
                        .unwrap_or('X'),
                    letters.as_str()
                );
                let id = self.insert_user(tenant, &email, &name, role, &password)?;
                let role_name = role.to_owned();
                let t = tenant.to_owned();
                let uid = id.clone();
                self.change_policy(tenant, move |doc| {
                    doc.unchecked().add_user(&uid)?;
                    doc.unchecked()
                        .set_roles(&uid, Some(&t), &[role_name.as_str()])
                })?;
                (id, password)
            };
            let (totp_secret, recovery_code) = self.enroll_directly(tenant, &id)?;
            users.push(DemoUser {
                email,
                role: ROLES
                    .iter()
                    .copied()
                    .find(|r| *r == role)
                    .unwrap_or(OWNER_ROLE),
                id,
                password,
                totp_secret,
                recovery_code,
            });
        }
        let mut ids = Vec::new();
        let mut phones = Vec::new();
        for i in 0..clients {
            let name = NAMES.get(i % NAMES.len()).copied().unwrap_or("Client");
            let phone = format!(
                "+48 601 {:03} {:03}",
                (i * 37 + 101) % 1000,
                (i * 53 + 211) % 1000
            );
            let email = format!(
                "{}.{i}@mail.example",
                name.split(' ').next().unwrap_or("client").to_lowercase()
            );
            let id = random_id("c")?;
            self.insert_client(
                tenant,
                &owner_id,
                &id,
                &NewClient {
                    name: name.into(),
                    phone: phone.clone(),
                    email,
                },
            )?;
            self.record(
                tenant,
                &owner_id,
                "client.create",
                &format!("clients/{id}"),
                &[format!("client:{id}")],
                json!({ "seed": true }),
            )?;
            ids.push(id);
            phones.push(phone);
        }
        // Attachments whose tickets closed 40 days ago: one expires, one is held.
        let first = ids.first().cloned().unwrap_or_default();
        let closed = self.clock.now() - 40 * 86_400;
        let attachment = |hold: Option<&str>| -> Result<String> {
            let form = NewAttachment {
                file_name: "screenshot.png".into(),
                body: "(image bytes)".into(),
            };
            let id = self.add_attachment(tenant, &first, &form)?;
            self.db.exec(
                "UPDATE attachments SET created = $1, ticket_closed = $2 WHERE id = $3",
                &[(closed - 86_400).into(), closed.into(), id.clone().into()],
            )?;
            self.hold_attachment(tenant, &id, hold)?;
            Ok(id)
        };
        let expired_attachment = attachment(None)?;
        let held_attachment = attachment(Some("case-7"))?;
        for (n, client) in ids.iter().take(3).enumerate() {
            let amount = i64::try_from(n).unwrap_or(0) * 1000 + 4900;
            self.add_invoice(tenant, client, amount)?;
        }
        Ok(Demo {
            tenant: tenant.to_owned(),
            users,
            clients: ids,
            phones,
            expired_attachment,
            held_attachment,
        })
    }

    /// Enrolls a demo user's second factor without the confirmation round
    /// trip; returns the base32 secret and one recovery code.
    fn enroll_directly(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<(Zeroizing<String>, Zeroizing<String>)> {
        let secret = Secret::generate().map_err(internal)?;
        let context = Self::field_context(tenant, "users", "totp_secret", id);
        let sealed = self
            .keyring
            .encrypt(secret.expose_bytes(), &context)
            .map_err(internal)?
            .to_token();
        let (stored, codes) =
            RecoveryCodes::generate(palisade_otp::DEFAULT_RECOVERY_CODES).map_err(internal)?;
        self.db.exec(
            "UPDATE users SET totp_secret = $1, totp_state = $2, recovery = $3 WHERE id = $4",
            &[
                sealed.into(),
                serde_json::to_string(&FactorState::new())
                    .map_err(internal)?
                    .into(),
                serde_json::to_string(&stored).map_err(internal)?.into(),
                id.into(),
            ],
        )?;
        let code = codes
            .first()
            .map(|c| Zeroizing::new(c.expose().to_owned()))
            .ok_or_else(|| internal("no recovery code"))?;
        Ok((secret.to_base32_exposed(), code))
    }
}
