//! The cache tiers results are kept in: this isolate's memory (the hottest results, no I/O at
//! all), the Cache API (`caches.default`, per data centre, fast) and, when an R2 bucket is bound
//! as `IMAGES`, R2 (durable, global). Entries are whole, verified images keyed by
//! `sdxl_core::cache_key`.
//!
//! A tier that fails is a miss, never a failed request: the model can always be asked again.

use std::cell::RefCell;

use js_sys::{Object, Promise, Reflect, Uint8Array};
use sdxl_core::lru::BoundedLru;
use sdxl_core::route::origin_and_query;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::{console_warn, Cache, Context, Env, Request};

use crate::model_output::{verify, ModelImage};

/// The R2 binding name the gateway looks for.
pub const R2_BINDING: &str = "IMAGES";

/// Immutable: a key names one exact set of inputs, and so one exact image.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

#[wasm_bindgen]
extern "C" {
    /// The R2 bucket binding's JS object; used raw so image bytes never pass through Wasm.
    type R2Bucket;

    #[wasm_bindgen(method, catch)]
    fn get(this: &R2Bucket, key: &str) -> Result<Promise, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn put(
        this: &R2Bucket,
        key: &str,
        value: &Uint8Array,
        options: &Object,
    ) -> Result<Promise, JsValue>;
}

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

/// Which tier answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Memory,
    CacheApi,
    R2,
}

impl Tier {
    pub fn name(self) -> &'static str {
        match self {
            Tier::Memory => "memory",
            Tier::CacheApi => "cache-api",
            Tier::R2 => "r2",
        }
    }
}

#[derive(Clone)]
pub struct Tiers {
    r2: Option<JsValue>,
    memory_budget: usize,
}

impl Tiers {
    /// The tiers, with at most `memory_budget` bytes of images kept in this isolate.
    pub fn new(env: &Env, memory_budget: usize) -> Tiers {
        let r2 = Reflect::get(env, &JsValue::from_str(R2_BINDING))
            .ok()
            .filter(|b| !b.is_undefined() && !b.is_null());
        Tiers { r2, memory_budget }
    }

    /// Keeps the result in this isolate's memory tier, at once (no I/O).
    pub fn remember(&self, key: &str, stored: &Stored) {
        MEMORY.with(|m| {
            let mut memory = m.borrow_mut();
            memory.set_budget(self.memory_budget);
            memory.insert(key, stored.clone(), stored.image.bytes.length() as usize);
        });
    }

    fn bucket(&self) -> Option<&R2Bucket> {
        self.r2.as_ref().map(JsCast::unchecked_ref)
    }

    /// The result for `key` in this isolate's memory tier, if it is there (no I/O, no `await`).
    pub fn in_memory(&self, key: &str) -> Option<Stored> {
        MEMORY.with(|m| m.borrow_mut().get(key))
    }

    /// Looks `key` up in memory, then in the Cache API (at `url`), then in R2.
    pub async fn get(&self, url: &str, key: &str) -> Option<(Stored, Tier)> {
        if let Some(stored) = self.in_memory(key) {
            return Some((stored, Tier::Memory));
        }
        let from_cache_api = cache_api_get(url).await.unwrap_or_else(|e| {
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

    async fn r2_get(&self, key: &str) -> Option<Stored> {
        let bucket = self.bucket()?;
        r2_get(bucket, key)
            .await
            .map_err(|e| console_warn!("r2 read of {key} failed: {e:?}"))
            .ok()
            .flatten()
    }

    /// After an R2 hit, copies the entry into this data centre's Cache API, after the response.
    pub fn backfill(&self, ctx: &Context, tier: Tier, url: &str, key: &str, stored: &Stored) {
        if tier != Tier::R2 {
            return;
        }
        let (tiers, stored, url, key) =
            (self.clone(), stored.clone(), url.to_owned(), key.to_owned());
        ctx.wait_until(async move { tiers.put(&url, &key, &stored, true).await });
    }

    /// Writes the result to the Cache API, and to R2 unless `only_cache_api` (the R2 copy
    /// already exists). The memory tier is the caller's: see [`Tiers::remember`].
    pub async fn put(&self, url: &str, key: &str, stored: &Stored, only_cache_api: bool) {
        if let Err(e) = cache_api_put(url, key, stored).await {
            console_warn!("cache api write of {key} failed: {e:?}");
        }
        if only_cache_api {
            return;
        }
        if let Some(bucket) = self.bucket() {
            if let Err(e) = r2_put(bucket, key, stored).await {
                console_warn!("r2 write of {key} failed: {e:?}");
            }
        }
    }
}

/// The Cache API key of a result, `<origin>/images/<key>`. It is only a cache key, never served
/// as it is (permalinks carry a tag, `sdxl_core::permalink`); it keeps the shape it had before
/// permalinks were signed, so the entries stored since stay hits.
pub fn cache_api_url(req: &Request, key: &str) -> worker::Result<String> {
    let url = req.inner().url();
    let (origin, _) = origin_and_query(&url);
    Ok(format!("{origin}/images/{key}"))
}

/// Deletes the memory and Cache API entries only (local admin, to show the R2 tier on its own).
pub async fn forget_locally(url: &str, key: &str) -> worker::Result<bool> {
    MEMORY.with(|m| m.borrow_mut().remove(key));
    let outcome = Cache::default().delete(url, true).await?;
    Ok(matches!(outcome, worker::CacheDeletionOutcome::Success))
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

async fn r2_get(bucket: &R2Bucket, key: &str) -> Result<Option<Stored>, JsValue> {
    let object = JsFuture::from(bucket.get(&r2_path(key))?).await?;
    if object.is_null() || object.is_undefined() {
        return Ok(None);
    }
    let seed = Reflect::get(&object, &"customMetadata".into())
        .and_then(|m| Reflect::get(&m, &"seed".into()))
        .ok()
        .and_then(|s| s.as_string());
    let array_buffer: js_sys::Function =
        Reflect::get(&object, &"arrayBuffer".into())?.dyn_into()?;
    let buffer = JsFuture::from(Promise::resolve(&array_buffer.call0(&object)?)).await?;
    Ok(verified(&Uint8Array::new(&buffer), seed))
}

async fn r2_put(bucket: &R2Bucket, key: &str, stored: &Stored) -> Result<(), JsValue> {
    let http = Object::new();
    Reflect::set(
        &http,
        &"contentType".into(),
        &stored.image.format.content_type().into(),
    )?;
    let custom = Object::new();
    if let Some(seed) = &stored.seed {
        Reflect::set(&custom, &"seed".into(), &seed.into())?;
    }
    let options = Object::new();
    Reflect::set(&options, &"httpMetadata".into(), &http)?;
    Reflect::set(&options, &"customMetadata".into(), &custom)?;
    JsFuture::from(bucket.put(&r2_path(key), &stored.image.bytes, &options)?).await?;
    Ok(())
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
