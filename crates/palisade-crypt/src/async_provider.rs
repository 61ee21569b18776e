//! Key providers for async applications: [`AsyncKeyProvider`], and (with
//! the `tokio` feature) every blocking [`KeyProvider`] behind an `Arc` run
//! on tokio's blocking pool.

use std::future::Future;

use crate::provider::{DataKey, WrappedKey};
use crate::{Context, Result};

/// The async form of [`KeyProvider`](crate::KeyProvider): wraps and unwraps
/// data keys without blocking the executor's threads.
///
/// Implement it directly for a provider that is async by nature (a KMS or
/// Vault client over HTTP). With the crate's `tokio` feature, every
/// `Arc<P>` where `P` is a blocking [`KeyProvider`](crate::KeyProvider)
/// (a [`LocalKeyProvider`](crate::LocalKeyProvider), a PKCS#11 provider) is
/// an `AsyncKeyProvider` that runs each call on tokio's blocking pool, so the
/// blocking API stays the only one a provider has to write.
///
/// The contract is the blocking trait's: `context` is authenticated, a
/// wrapped key only unwraps for the context it was wrapped for.
pub trait AsyncKeyProvider: Send + Sync {
    /// Wraps a data key under the provider's current key-encryption key.
    fn wrap_key(
        &self,
        key: &DataKey,
        context: &Context,
    ) -> impl Future<Output = Result<WrappedKey>> + Send;

    /// Unwraps a data key; fails if it was wrapped for another context or
    /// under a key the provider does not hold.
    fn unwrap_key(
        &self,
        wrapped: &WrappedKey,
        context: &Context,
    ) -> impl Future<Output = Result<DataKey>> + Send;

    /// A fresh data key and its wrapped form. A KMS provider should
    /// override this with its own data key generation.
    fn generate_data_key(
        &self,
        context: &Context,
    ) -> impl Future<Output = Result<(DataKey, WrappedKey)>> + Send {
        async move {
            let key = DataKey::generate()?;
            let wrapped = self.wrap_key(&key, context).await?;
            Ok((key, wrapped))
        }
    }
}

#[cfg(feature = "tokio")]
mod on_tokio {
    use std::sync::Arc;

    use super::*;
    use crate::{Error, KeyProvider};

    /// Runs `call` on tokio's blocking pool. Without a runtime, or if the
    /// call panicked or was cancelled, the error says so (no panic here).
    async fn blocking<T: Send + 'static>(
        call: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::ProviderFailed("an async key provider needs a tokio runtime".into())
        })?;
        runtime.spawn_blocking(call).await.map_err(|e| {
            Error::ProviderFailed(format!("the key provider's blocking task failed: {e}").into())
        })?
    }

    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    impl<P: KeyProvider + Send + Sync + 'static> AsyncKeyProvider for Arc<P> {
        fn wrap_key(
            &self,
            key: &DataKey,
            context: &Context,
        ) -> impl Future<Output = Result<WrappedKey>> + Send {
            let (provider, key, context) = (Arc::clone(self), key.clone(), context.clone());
            blocking(move || KeyProvider::wrap_key(&*provider, &key, &context))
        }

        fn unwrap_key(
            &self,
            wrapped: &WrappedKey,
            context: &Context,
        ) -> impl Future<Output = Result<DataKey>> + Send {
            let (provider, wrapped, context) = (Arc::clone(self), wrapped.clone(), context.clone());
            blocking(move || KeyProvider::unwrap_key(&*provider, &wrapped, &context))
        }

        fn generate_data_key(
            &self,
            context: &Context,
        ) -> impl Future<Output = Result<(DataKey, WrappedKey)>> + Send {
            let (provider, context) = (Arc::clone(self), context.clone());
            blocking(move || KeyProvider::generate_data_key(&*provider, &context))
        }
    }
}
