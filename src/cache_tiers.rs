//! The cache tiers results are kept in, and the policy between them: this isolate's memory (the
//! hottest results, no I/O at all), the Cache API (`caches.default`, per data centre, fast) and,
//! when an R2 bucket is bound as `IMAGES` (`bindings::r2`), R2 (durable, global). Entries are
//! whole, verified images keyed by `sdxl_core::cache_key`.
//!
//! A tier that fails is a miss, never a failed request: the model can always be asked again.

use std::cell::RefCell;

use js_sys::Uint8Array;
use sdxl_core::answer::{Tier, IMMUTABLE};
use sdxl_core::lru::BoundedLru;
use sdxl_core::pipeline::Writes;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use worker::{console_warn, Cache, Env};

use crate::bindings::r2::R2Bucket;
use crate::model_output::{verify, ModelImage};

/// A stored result: the image and the seed it was made with.
#[derive(Clone)]
pub struct Stored {
    pub image: ModelImage,
    pub seed: Option<String>,
}

thread_local! {
    /// Results this isolate served lately. The values are handles to JS memory, shared by the
    /// requests that read them; images are immutable, so sharing is safe.
    static MEMORY: RefCell<BoundedLru<Stored>> = RefCell::new(BoundedLru::new(0));
}

/// The tiers of one request, with where its Cache API entries live.
#[derive(Clone)]
pub struct Tiers {
    r2: Option<R2Bucket>,
    memory_budget: usize,
    /// `<origin>` of the request's URL: Cache API keys are `<origin>/images/<key>`.
    url_origin: String,
}

impl Tiers {
    /// The tiers, with at most `memory_budget` bytes of images kept in this isolate.
    pub fn new(env: &Env, memory_budget: usize, url_origin: &str) -> Tiers {
        Tiers {
            r2: R2Bucket::from_env(env),
            memory_budget,
            url_origin: url_origin.to_owned(),
        }
    }

    fn cache_api_url(&self, key: &str) -> String {
        sdxl_core::answer::cache_api_url(&self.url_origin, key)
    }

    /// The result for `key` in this isolate's memory tier, if it is there (no I/O, no `await`).
    pub fn remembered(key: &str) -> Option<Stored> {
        MEMORY.with(|m| m.borrow_mut().get(key))
    }

    async fn r2_get(&self, key: &str) -> Option<Stored> {
        let bucket = self.r2.as_ref()?;
        let object = bucket
            .get(&r2_path(key))
            .await
            .map_err(|e| console_warn!("r2 read of {key} failed: {e:?}"))
            .ok()
            .flatten()?;
        verified(&object.bytes, object.seed)
    }

    /// Deletes the memory and Cache API entries only (local admin, to show the R2 tier on its
    /// own).
    pub async fn forget_locally(&self, key: &str) -> worker::Result<bool> {
        MEMORY.with(|m| m.borrow_mut().remove(key));
        let outcome = Cache::default()
            .delete(&self.cache_api_url(key), true)
            .await?;
        Ok(matches!(outcome, worker::CacheDeletionOutcome::Success))
    }
}

impl sdxl_core::pipeline::Tiers for Tiers {
    type Image = Stored;

    fn in_memory(&self, key: &str) -> Option<Stored> {
        Tiers::remembered(key)
    }

    /// Keeps the result in this isolate's memory tier, at once (no I/O).
    fn remember(&self, key: &str, stored: &Stored) {
        MEMORY.with(|m| {
            let mut memory = m.borrow_mut();
            memory.set_budget(self.memory_budget);
            memory.insert(key, stored.clone(), stored.image.bytes.length() as usize);
        });
    }

    /// Looks `key` up in memory, then in the Cache API, then in R2.
    async fn get(&self, key: &str) -> Option<(Stored, Tier)> {
        if let Some(stored) = Tiers::remembered(key) {
            return Some((stored, Tier::Memory));
        }
        let from_cache_api = cache_api_get(&self.cache_api_url(key))
            .await
            .unwrap_or_else(|e| {
                console_warn!("cache api read of {key} failed: {e:?}");
                None
            });
        let found = match from_cache_api {
            Some(stored) => Some((stored, Tier::CacheApi)),
            None => self.r2_get(key).await.map(|stored| (stored, Tier::R2)),
        };
        if let Some((stored, _)) = &found {
            self.remember(key, stored);
        }
        found
    }

    /// Writes the result to the tiers `writes` names.
    ///
    /// A fresh result goes to R2 alone when a bucket is bound: R2 is the store of record, and
    /// the Cache API a copy per data centre, made by the pipeline's backfill on the first R2 hit
    /// there. Most fresh results are never read from another isolate (a drawn seed's result only
    /// through its permalink), and writing both tiers doubled every miss's store work. Without a
    /// bucket, or when the R2 write fails, the Cache API is written instead.
    async fn put(&self, key: &str, stored: &Stored, writes: Writes) {
        if writes == Writes::Fresh {
            if let Some(bucket) = &self.r2 {
                let (bytes, content_type) =
                    (&stored.image.bytes, stored.image.format.content_type());
                let path = r2_path(key);
                let put = bucket.put(&path, bytes, content_type, stored.seed.as_deref());
                match put.await {
                    Ok(()) => return,
                    Err(e) => console_warn!("r2 write of {key} failed: {e:?}"),
                }
            }
        }
        if let Err(e) = cache_api_put(&self.cache_api_url(key), key, stored).await {
            console_warn!("cache api write of {key} failed: {e:?}");
        }
    }
}

async fn cache_api_get(url: &str) -> Result<Option<Stored>, JsValue> {
    let Some(hit) = Cache::default().get(url, true).await? else {
        return Ok(None);
    };
    let seed = hit.headers().get("x-seed")?;
    let raw: web_sys::Response = hit.into();
    let buffer = JsFuture::from(raw.array_buffer()?).await?;
    Ok(verified(&Uint8Array::new(&buffer), seed))
}

async fn cache_api_put(url: &str, key: &str, stored: &Stored) -> Result<(), JsValue> {
    let response = web_sys::Response::new_with_opt_buffer_source(Some(&stored.image.bytes))?;
    let mut response = worker::Response::from(response);
    let headers = response.headers_mut();
    headers.set("content-type", stored.image.format.content_type())?;
    headers.set("cache-control", IMMUTABLE)?;
    headers.set("etag", &format!("\"{key}\""))?;
    if let Some(seed) = &stored.seed {
        headers.set("x-seed", seed)?;
    }
    Cache::default().put(url, response).await?;
    Ok(())
}

impl Tiers {
    /// Whether R2, the store of record the gateway's permalinks read, holds `key` (false
    /// without a bucket, or when the bucket cannot say).
    pub async fn in_r2(&self, key: &str) -> bool {
        match &self.r2 {
            Some(bucket) => bucket.exists(&r2_path(key)).await.unwrap_or(false),
            None => false,
        }
    }
}

fn r2_path(key: &str) -> String {
    format!("images/{key}")
}

/// A stored entry is served only if it is still a whole image (a corrupt entry is a miss).
fn verified(bytes: &Uint8Array, seed: Option<String>) -> Option<Stored> {
    let format = verify(bytes).ok()?;
    Some(Stored {
        image: ModelImage {
            format,
            bytes: bytes.clone(),
        },
        seed,
    })
}
