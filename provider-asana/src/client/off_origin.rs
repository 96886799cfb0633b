//! The HTTP client of attachment downloads from hosts other than the API origin: it connects only
//! to public addresses.
//!
//! Its DNS resolver drops the addresses a name resolves to that are not public (loopback,
//! private, link-local, reserved: [`is_local_ip`]), and refuses a name left with none. The
//! addresses judged are the ones the connection is then made to, so a name cannot resolve to a
//! public address when checked and to a private one when connected to (DNS rebinding).

use std::error::Error;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Url;

use super::{USER_AGENT, is_local_ip};
use crate::error::AsanaError;

/// The HTTP client of attachment downloads from hosts other than the API origin: it connects
/// only to the public addresses a host's name resolves to, judged when it connects.
///
/// It is built at its first download, and clones share it (its connection pool and TLS
/// configuration, about as much memory as an API client's). An [`AsanaClient`] without one in
/// its settings makes its own; a program with many clients (a service's connectors) makes one
/// and gives it to each through [`AsanaClientSettings::with_download_client`], as it shares
/// their HTTP client. Its connections belong to the runtime of the download that opened them,
/// as with any `reqwest::Client`.
///
/// ```
/// use provider_asana::{AsanaClientSettings, DownloadClient};
///
/// let downloads = DownloadClient::new();
/// let settings = AsanaClientSettings::new("https://app.asana.com/api/1.0".parse().unwrap())
///     .with_download_client(downloads.clone());
/// assert!(settings.download_client.is_some());
/// ```
///
/// [`AsanaClient`]: super::AsanaClient
/// [`AsanaClientSettings::with_download_client`]: super::AsanaClientSettings::with_download_client
#[derive(Clone)]
pub struct DownloadClient {
    shared: Arc<Shared>,
}

struct Shared {
    /// The hosts of the proxies the environment named when the client was made: the resolver
    /// does not judge their names, and nothing is downloaded from them.
    proxies: Vec<String>,
    http: OnceLock<reqwest::Client>,
}

impl DownloadClient {
    /// A client, not yet built, sent through the proxies the environment names now
    /// (`HTTPS_PROXY`, `ALL_PROXY`).
    pub fn new() -> Self {
        Self::over(proxy_hosts(), OnceLock::new())
    }

    fn over(proxies: Vec<String>, http: OnceLock<reqwest::Client>) -> Self {
        Self {
            shared: Arc::new(Shared { proxies, http }),
        }
    }

    /// A client that is this one, as if sent through `proxies` (a test's, over a fake resolver).
    #[cfg(test)]
    pub(super) fn built(http: reqwest::Client, proxies: &[&str]) -> Self {
        let proxies = proxies.iter().map(|proxy| proxy.to_string()).collect();
        Self::over(proxies, OnceLock::from(http))
    }

    /// The client, built over the system's resolver at the first call.
    pub(super) fn http(&self) -> Result<&reqwest::Client, AsanaError> {
        if let Some(http) = self.shared.http.get() {
            return Ok(http);
        }
        let http = builder(Arc::new(System), self.shared.proxies.clone())
            .build()
            .map_err(AsanaError::HttpClient)?;
        Ok(self.shared.http.get_or_init(|| http))
    }

    /// Whether `host` is the host of one of its proxies: a download from it is refused, since
    /// the resolver does not judge a proxy's name (`NO_PROXY` could send such a download there
    /// directly).
    pub(super) fn is_proxy_host(&self, host: &str) -> bool {
        names_one_of(host, &self.shared.proxies)
    }
}

impl Default for DownloadClient {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for DownloadClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DownloadClient")
            .field("proxies", &self.shared.proxies)
            .field("built", &self.shared.http.get().is_some())
            .finish()
    }
}

/// Whether `host` is one of `hosts`, in any case, with or without a final dot.
fn names_one_of(host: &str, hosts: &[String]) -> bool {
    let host = host.trim_end_matches('.');
    hosts
        .iter()
        .any(|other| other.trim_end_matches('.').eq_ignore_ascii_case(host))
}

/// The hosts of the proxies the environment names.
fn proxy_hosts() -> Vec<String> {
    env_proxy_hosts(|name| std::env::var(name).ok())
}

/// A builder of the guarded client over `resolver`, with the API client's policies (no
/// redirects, which could lead anywhere the checks would have refused, and the same user agent),
/// and https only, as [`AsanaClient::download_access`](super::AsanaClient::download_access)
/// requires off the API origin. `proxies` are the names of the proxies it may be sent through.
pub(super) fn builder(resolver: Arc<dyn Resolve>, proxies: Vec<String>) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(USER_AGENT)
        .https_only(true)
        .dns_resolver(Arc::new(PublicOnly {
            inner: resolver,
            proxies,
        }))
}

/// The download's failure as the refusal it is, when the resolver refused its host:
/// [`AsanaError::InvalidUrl`], as for a host refused as written.
pub(super) fn refusal(e: &reqwest::Error) -> Option<AsanaError> {
    std::iter::successors(e.source(), |cause| (*cause).source())
        .find_map(|cause| cause.downcast_ref::<OnlyLocalAddresses>())
        .map(|refused| AsanaError::InvalidUrl {
            what: "attachment download",
            reason: refused.to_string(),
        })
}

/// A host whose name resolved only to addresses that are not public.
#[derive(Debug)]
struct OnlyLocalAddresses {
    host: String,
}

impl fmt::Display for OnlyLocalAddresses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} resolves only to addresses that are not public (loopback, private, link-local or reserved); a download from a host other than the API origin connects only to public ones",
            self.host
        )
    }
}

impl Error for OnlyLocalAddresses {}

/// `inner`'s addresses without the local ones. A proxy's own name is not judged: the proxy is the
/// operator's choice, and one on a private network is the usual kind.
struct PublicOnly {
    inner: Arc<dyn Resolve>,
    proxies: Vec<String>,
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        let is_proxy = names_one_of(&host, &self.proxies);
        let resolving = self.inner.resolve(name);
        Box::pin(async move {
            let addrs = resolving.await?;
            if is_proxy {
                return Ok(addrs);
            }
            let addrs: Vec<SocketAddr> = addrs.collect();
            let public: Vec<SocketAddr> = addrs
                .iter()
                .copied()
                .filter(|addr| !is_local_ip(addr.ip()))
                .collect();
            // A name with no address at all is the connector's error to report, not a refusal.
            if public.is_empty() && !addrs.is_empty() {
                return Err(Box::new(OnlyLocalAddresses { host }) as _);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// The system's resolver (`getaddrinfo`, on tokio's blocking threads), as reqwest's default.
struct System;

impl Resolve for System {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// The hosts of the proxies reqwest takes from the environment for https requests, read by
/// hyper-util's rules: the first set of `HTTPS_PROXY` and `https_proxy`, and of `ALL_PROXY` and
/// `all_proxy` (a value without a scheme is `http://`), and none when `REQUEST_METHOD` is set (a
/// CGI program, where hyper-util takes no proxy from the environment).
fn env_proxy_hosts(var: impl Fn(&str) -> Option<String>) -> Vec<String> {
    if var("REQUEST_METHOD").is_some() {
        return Vec::new();
    }
    [["HTTPS_PROXY", "https_proxy"], ["ALL_PROXY", "all_proxy"]]
        .into_iter()
        .filter_map(|names| names.into_iter().find_map(&var))
        .filter_map(|value| {
            let url = if value.contains("://") {
                Url::parse(&value)
            } else {
                Url::parse(&format!("http://{value}"))
            };
            url.ok()?.host_str().map(str::to_string)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::net::IpAddr;
    use std::str::FromStr;
    use std::time::Duration;

    use auth_core::StaticTokenSource;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;
    use crate::client::{AsanaClient, AsanaClientSettings, DownloadOptions};

    /// A resolver that answers every name with the same addresses.
    struct Fixed(Vec<SocketAddr>);

    impl Resolve for Fixed {
        fn resolve(&self, _: Name) -> Resolving {
            let addrs = self.0.clone();
            Box::pin(async move { Ok(Box::new(addrs.into_iter()) as Addrs) })
        }
    }

    fn addrs(ips: &[&str]) -> Vec<SocketAddr> {
        ips.iter()
            .map(|ip| SocketAddr::new(IpAddr::from_str(ip).unwrap(), 443))
            .collect()
    }

    /// What `PublicOnly` over `answer`, with `proxies`, resolves `name` to.
    async fn resolve(
        name: &str,
        answer: &[&str],
        proxies: &[&str],
    ) -> Result<Vec<SocketAddr>, Box<dyn Error + Send + Sync>> {
        let resolver = PublicOnly {
            inner: Arc::new(Fixed(addrs(answer))),
            proxies: proxies.iter().map(|proxy| proxy.to_string()).collect(),
        };
        let resolved = resolver.resolve(Name::from_str(name).unwrap()).await?;
        Ok(resolved.collect())
    }

    #[tokio::test]
    async fn a_name_that_resolves_only_to_local_addresses_is_refused() {
        let all = [
            "127.0.0.1",
            "10.0.0.1",
            "169.254.169.254",
            "::1",
            "::ffff:10.0.0.1",
        ];
        let mut answers: Vec<&[&str]> = all.iter().map(std::slice::from_ref).collect();
        answers.push(&all);
        for answer in answers {
            let e = resolve("files.example.com", answer, &[]).await.unwrap_err();
            assert!(
                e.downcast_ref::<OnlyLocalAddresses>().is_some(),
                "{answer:?}"
            );
            assert_eq!(
                e.to_string(),
                "files.example.com resolves only to addresses that are not public (loopback, private, link-local or reserved); a download from a host other than the API origin connects only to public ones",
                "{answer:?}"
            );
        }
    }

    #[tokio::test]
    async fn of_public_and_local_addresses_only_the_public_ones_are_kept() {
        let resolved = resolve(
            "files.example.com",
            &[
                "127.0.0.1",
                "93.184.216.34",
                "10.0.0.1",
                "2606:2800:220:1:248:1893:25c8:1946",
                "::ffff:10.0.0.1",
                "fe80::1",
            ],
            &[],
        )
        .await
        .unwrap();
        assert_eq!(
            resolved,
            addrs(&["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"])
        );
    }

    #[tokio::test]
    async fn public_addresses_and_no_addresses_pass_unchanged() {
        let public = resolve("files.example.com", &["93.184.216.34"], &[]).await;
        assert_eq!(public.unwrap(), addrs(&["93.184.216.34"]));
        let none = resolve("files.example.com", &[], &[]).await;
        assert_eq!(none.unwrap(), addrs(&[]));
    }

    #[tokio::test]
    async fn a_proxys_own_name_is_not_judged() {
        let proxy = resolve("Proxy.Corp.example", &["10.0.0.5"], &["proxy.corp.example"]).await;
        assert_eq!(proxy.unwrap(), addrs(&["10.0.0.5"]));
        let other = resolve("files.example.com", &["10.0.0.5"], &["proxy.corp.example"]).await;
        assert!(other.is_err());
    }

    /// A download client is built at its first use, once, and its clones share it.
    #[tokio::test]
    async fn clones_share_the_client_built_at_the_first_use() {
        let downloads = DownloadClient::over(Vec::new(), OnceLock::new());
        let clone = downloads.clone();
        assert_eq!(
            format!("{clone:?}"),
            "DownloadClient { proxies: [], built: false }"
        );
        let first: *const reqwest::Client = downloads.http().unwrap();
        assert_eq!(
            format!("{clone:?}"),
            "DownloadClient { proxies: [], built: true }"
        );
        assert!(std::ptr::eq(first, clone.http().unwrap()));
        assert!(std::ptr::eq(first, downloads.http().unwrap()));
        let other = DownloadClient::over(Vec::new(), OnceLock::new());
        assert_eq!(
            format!("{other:?}"),
            "DownloadClient { proxies: [], built: false }"
        );
    }

    /// A proxy's host, which [`is_proxy_host`] refuses to download from, is matched in any case
    /// and with or without a final dot, and only whole.
    #[test]
    fn a_proxys_host_is_matched_whole_in_any_case() {
        let proxies = ["proxy.corp.example".to_string()];
        for host in [
            "proxy.corp.example",
            "PROXY.corp.example",
            "proxy.corp.example.",
        ] {
            assert!(names_one_of(host, &proxies), "{host}");
        }
        for host in [
            "corp.example",
            "files.proxy.corp.example",
            "proxy.corp.example.com",
        ] {
            assert!(!names_one_of(host, &proxies), "{host}");
        }
    }

    /// An attachment whose `download_url` names a host that resolves to 127.0.0.1 is refused,
    /// read into memory or streamed, and nothing connects to it. The name resolves so through a
    /// fake resolver: the only name that does on every machine, `localhost`, is refused as written.
    #[tokio::test]
    async fn a_download_from_a_name_that_resolves_to_loopback_is_refused_unconnected() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let api = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/api/1.0/attachments/500"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(serde_json::json!({"data": {
                    "gid": "500", "download_url": format!("https://files.example.com:{port}/a.txt")
                }})),
            )
            .expect(2)
            .mount(&api)
            .await;
        let tokens = Arc::new(StaticTokenSource::new("asana", "default", "pat".into()));
        let settings = AsanaClientSettings::new(format!("{}/api/1.0", api.uri()).parse().unwrap())
            .with_timeout(Duration::from_secs(5));
        let loopback = builder(Arc::new(Fixed(addrs(&["127.0.0.1"]))), Vec::new())
            .no_proxy()
            .build()
            .unwrap();
        let settings = settings.with_download_client(DownloadClient::built(loopback, &[]));
        let client = AsanaClient::new(tokens, settings).unwrap();

        let in_memory = client.attachments().download("500").await.map(drop);
        let streamed = client
            .attachments()
            .download_to("500", &mut Vec::new(), &DownloadOptions::default())
            .await
            .map(drop);

        for outcome in [in_memory, streamed] {
            let err = outcome.unwrap_err();
            let AsanaError::InvalidUrl {
                what: "attachment download",
                reason,
            } = &err
            else {
                panic!("{err:?}")
            };
            assert_eq!(
                reason,
                "files.example.com resolves only to addresses that are not public (loopback, private, link-local or reserved); a download from a host other than the API origin connects only to public ones"
            );
        }
        let unconnected = listener.accept().map(drop).unwrap_err();
        assert_eq!(unconnected.kind(), std::io::ErrorKind::WouldBlock);
    }

    #[test]
    fn the_proxies_are_those_hyper_util_reads_for_https() {
        let hosts = |vars: &[(&str, &str)]| {
            let vars: HashMap<String, String> = vars
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect();
            env_proxy_hosts(|name| vars.get(name).cloned())
        };
        assert_eq!(hosts(&[]), Vec::<String>::new());
        assert_eq!(
            hosts(&[
                ("HTTPS_PROXY", "http://user:pass@Proxy.Corp.example:3128"),
                ("https_proxy", "http://ignored.example"),
                ("all_proxy", "socks5://all.example:1080"),
                ("HTTP_PROXY", "http://http-only.example"),
            ]),
            ["proxy.corp.example", "all.example"]
        );
        assert_eq!(
            hosts(&[("https_proxy", "proxy.example:8080")]),
            ["proxy.example"]
        );
        assert_eq!(
            hosts(&[
                ("HTTPS_PROXY", "http://proxy.example"),
                ("REQUEST_METHOD", "GET")
            ]),
            Vec::<String>::new()
        );
    }
}
